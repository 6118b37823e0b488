#!/usr/bin/env bash
# images.sh [mariadb] [postgres] [prometheus] [host] — builds the project's container images from Debian's packages
# (no image registry is needed), once: each image carries the hash of its build inputs as a label and is saved under
# .local/images/, so a second run neither rebuilds nor, on an engine that lost it, does more than `docker load`.
# Without arguments: mariadb (what the tests use).
#
#   offlinetasks/mariadb:10.11      MariaDB 10.11 with an entrypoint like the official image's
#                                   (deploy/docker/mariadb/): what Testcontainers.MySql and docker-compose.yml use
#   offlinetasks/postgres:15        PostgreSQL 15, entrypoint like the official image's (deploy/docker/postgres/)
#   offlinetasks/prometheus:2.42    Prometheus (Debian's), like prom/prometheus, for docker-compose.yml
#   offlinetasks/alertmanager:0.25  Alertmanager (Debian's, the same image), like prom/alertmanager
#   offlinetasks/host:latest        the worker executable, self-contained (dotnet publish), for docker-compose.yml
#
# On a machine with Docker Hub, OFFLINETASKS_MARIADB_IMAGE=mariadb:10.11 (or mysql:8.0) makes the tests use the
# official image instead, and nothing is built for them; docker-compose.yml takes each image from a variable too.
# Needs DOCKER_HOST (scripts/docker-engine.sh start), debootstrap and root.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache="$repo/.local/images"
suite=bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

# build NAME IMAGE PACKAGES ENTRYPOINT CMD EXPOSE [DIR_TO_COPY_TO_/app]
# ENTRYPOINT is a script (installed as /usr/local/bin/docker-entrypoint.sh), or the JSON of the entrypoint itself.
build() {
  local name=$1 image=$2 packages=$3 entrypoint=$4 cmd=$5 expose=$6 app=${7:-}
  local inputs entry='["/usr/local/bin/docker-entrypoint.sh"]'
  if [ "${entrypoint#[}" != "$entrypoint" ]; then entry=$entrypoint; entrypoint=/dev/null; fi
  inputs=$( { echo "$suite $packages $cmd $expose $entry"; cat "$entrypoint" "$0"; if [ -n "$app" ]; then (cd "$app" && find . -type f -print0 | sort -z | xargs -0 sha256sum); fi; } | sha256sum | cut -c1-16)
  if [ "$(docker image inspect -f '{{ index .Config.Labels "org.offlinetasks.inputs" }}' "$image" 2>/dev/null)" = "$inputs" ]; then
    echo "images: $image is up to date ($inputs)" >&2; return 0
  fi
  local tarball="$cache/$name-$inputs.tar"
  if [ -f "$tarball" ]; then
    echo "images: loading $image from $tarball" >&2
    docker load -q -i "$tarball" >/dev/null; return 0
  fi

  command -v debootstrap >/dev/null || { echo "images: debootstrap is missing: apt-get install debootstrap (scripts/setup.sh installs it)" >&2; exit 1; }
  [ "$(id -u)" = 0 ] || { echo "images: building $image needs root (debootstrap)" >&2; exit 1; }
  local started=$SECONDS rootfs="$cache/build/$name-rootfs" log="$cache/build/$name-debootstrap.log"
  echo "images: building $image from Debian $suite's packages (once)" >&2
  rm -rf "$rootfs"; mkdir -p "$rootfs"
  debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$log" 2>&1 \
    || { echo "images: debootstrap failed; tail of $log:" >&2; tail -20 "$log" >&2; exit 1; }
  if [ "$entrypoint" != /dev/null ]; then install -m 0755 "$entrypoint" "$rootfs/usr/local/bin/docker-entrypoint.sh"; fi
  mkdir -p "$rootfs/docker-entrypoint-initdb.d"
  if [ -n "$app" ]; then mkdir -p "$rootfs/app"; cp -a "$app"/. "$rootfs/app/"; fi
  # Package caches and docs are not part of the image; neither are the data directories packages create.
  rm -rf "$rootfs/var/cache/apt/archives"/*.deb "$rootfs/var/lib/apt/lists"/* "$rootfs/usr/share/doc" "$rootfs/usr/share/man" \
    "$rootfs/var/lib/mysql"/* "$rootfs/var/lib/postgresql"/*
  tar -C "$rootfs" -c . | docker import \
    -c "ENTRYPOINT $entry" -c "CMD $cmd" -c "EXPOSE $expose" \
    -c 'ENV LANG=C.UTF-8' -c "LABEL org.offlinetasks.inputs=$inputs" - "$image" >/dev/null
  rm -rf "$rootfs"
  rm -f "$cache/$name"-*.tar
  docker save -o "$tarball" "$image"
  docker image prune -f >/dev/null
  echo "images: built $image in $((SECONDS - started)) s ($inputs)" >&2
}

mkdir -p "$cache/build"
for name in "${@:-mariadb}"; do
  case "$name" in
    mariadb)
      if [ -n "${OFFLINETASKS_MARIADB_IMAGE:-}" ]; then echo "images: using $OFFLINETASKS_MARIADB_IMAGE, nothing to build" >&2; continue; fi
      build mariadb offlinetasks/mariadb:10.11 mariadb-server,mariadb-client "$repo/deploy/docker/mariadb/docker-entrypoint.sh" '["mariadbd"]' 3306 ;;
    postgres)
      build postgres offlinetasks/postgres:15 postgresql-15,postgresql-client-15 "$repo/deploy/docker/postgres/docker-entrypoint.sh" '["postgres"]' 5432 ;;
    prometheus)
      build prometheus offlinetasks/prometheus:2.42 prometheus,prometheus-alertmanager,curl "$repo/deploy/docker/prometheus/docker-entrypoint.sh" '["--config.file=/etc/prometheus/prometheus.yml"]' 9090
      printf 'FROM offlinetasks/prometheus:2.42\nENTRYPOINT ["/usr/bin/prometheus-alertmanager"]\nCMD ["--config.file=/etc/alertmanager/alertmanager.yml"]\nEXPOSE 9093\n' \
        | DOCKER_BUILDKIT=0 docker build -q -t offlinetasks/alertmanager:0.25 - >/dev/null ;;
    host)
      publish="$cache/build/host-publish"
      rm -rf "$publish"
      dotnet publish "$repo/src/OfflineTasks.Host" -c Release -r linux-x64 --self-contained -p:InvariantGlobalization=true -o "$publish" -v quiet -nologo >&2
      # The executable itself is the entrypoint: a shell in between (dash) would drop the environment variables whose
      # names hold a '-' (OfflineTasks__Gate__Shards__users-1__...).
      build host offlinetasks/host:latest libssl3,zlib1g,curl '["/app/OfflineTasks.Host"]' '["run"]' 5080 "$publish" ;;
    *) echo "images: unknown image '$name' (known: mariadb, postgres, prometheus, host)" >&2; exit 2 ;;
  esac
done
