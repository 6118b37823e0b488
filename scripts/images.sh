#!/usr/bin/env bash
# images.sh [mariadb] — builds the project's container images from Debian's packages (no image registry is needed),
# once: each image carries the hash of its build inputs as a label, and is saved under .local/images/, so a second
# run neither rebuilds nor, on an engine that lost it, does more than `docker load`.
#
#   offlinetasks/mariadb:10.11   MariaDB 10.11 (Debian 12) with an entrypoint that behaves like the official
#                                image's (deploy/docker/mariadb/docker-entrypoint.sh): what Testcontainers.MySql and
#                                docker-compose.yml use. On a machine with Docker Hub, OFFLINETASKS_MARIADB_IMAGE=mariadb:10.11
#                                (or mysql:8.0) makes both use the official image instead, and nothing is built.
#
# Needs DOCKER_HOST (scripts/docker-engine.sh start), debootstrap and root.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache="$repo/.local/images"
suite=bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

build_mariadb() {
  local image=offlinetasks/mariadb:10.11
  local packages=mariadb-server,mariadb-client
  local entrypoint="$repo/deploy/docker/mariadb/docker-entrypoint.sh"
  local inputs
  inputs=$( { echo "$suite $packages"; cat "$entrypoint" "$0"; } | sha256sum | cut -c1-16)
  if [ "$(docker image inspect -f '{{ index .Config.Labels "org.offlinetasks.inputs" }}' "$image" 2>/dev/null)" = "$inputs" ]; then
    echo "images: $image is up to date ($inputs)" >&2; return 0
  fi
  local tarball="$cache/mariadb-$inputs.tar"
  if [ -f "$tarball" ]; then
    echo "images: loading $image from $tarball" >&2
    docker load -q -i "$tarball" >/dev/null; return 0
  fi

  command -v debootstrap >/dev/null || { echo "images: debootstrap is missing: apt-get install debootstrap (scripts/setup.sh installs it)" >&2; exit 1; }
  [ "$(id -u)" = 0 ] || { echo "images: building $image needs root (debootstrap)" >&2; exit 1; }
  local started=$SECONDS rootfs="$cache/build/mariadb-rootfs"
  echo "images: building $image from Debian $suite's packages (a few minutes, once)" >&2
  rm -rf "$rootfs"; mkdir -p "$rootfs"
  debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$cache/build/mariadb-debootstrap.log" 2>&1 \
    || { echo "images: debootstrap failed; tail of $cache/build/mariadb-debootstrap.log:" >&2; tail -20 "$cache/build/mariadb-debootstrap.log" >&2; exit 1; }
  install -m 0755 "$entrypoint" "$rootfs/usr/local/bin/docker-entrypoint.sh"
  mkdir -p "$rootfs/docker-entrypoint-initdb.d"
  # The package's own data directory, caches and docs are not part of the image.
  rm -rf "$rootfs/var/lib/mysql" "$rootfs/var/cache/apt/archives"/*.deb "$rootfs/var/lib/apt/lists"/* "$rootfs/usr/share/doc" "$rootfs/usr/share/man"
  mkdir -p "$rootfs/var/lib/mysql"
  tar -C "$rootfs" -c . | docker import \
    -c 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' -c 'CMD ["mariadbd"]' -c 'EXPOSE 3306' \
    -c 'ENV LANG=C.UTF-8' -c "LABEL org.offlinetasks.inputs=$inputs" -c 'VOLUME /var/lib/mysql' - "$image" >/dev/null
  rm -rf "$rootfs"
  rm -f "$cache"/mariadb-*.tar
  docker save -o "$tarball" "$image"
  echo "images: built $image in $((SECONDS - started)) s ($inputs)" >&2
}

mkdir -p "$cache/build"
for name in "${@:-mariadb}"; do
  case "$name" in
    mariadb) [ -n "${OFFLINETASKS_MARIADB_IMAGE:-}" ] && { echo "images: using $OFFLINETASKS_MARIADB_IMAGE, nothing to build" >&2; continue; }; build_mariadb ;;
    *) echo "images: unknown image '$name' (known: mariadb)" >&2; exit 2 ;;
  esac
done
