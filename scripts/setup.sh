#!/usr/bin/env bash
# Installs what OfflineTasks needs to run and test on a fresh Debian machine that has the .NET SDK:
# PostgreSQL and MariaDB server and client binaries (for the local servers the scripts and tests start; the MySQL
# status probe itself is managed code, MySqlConnector from NuGet), promtool (from the prometheus package; tests
# check the /metrics output with `promtool check metrics`) and chromium (the dashboard's browser tests drive it with
# Playwright; no browser is downloaded), docker.io, debootstrap and docker-compose (a Docker engine the tests start
# themselves, the project's images, built from Debian's packages with no image registry, and the compose stack). Installs only what is missing, unless --always
# is given (CI). Needs root for apt-get; prints what to install otherwise.
set -euo pipefail

always=false
[ "${1:-}" = "--always" ] && always=true

command -v dotnet >/dev/null || { echo "setup: the .NET SDK (dotnet) is required: https://dot.net" >&2; exit 1; }

have_postgres() { ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; }
have_mariadb() { { command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; } && command -v mariadb >/dev/null 2>&1; }
have_promtool() { command -v promtool >/dev/null 2>&1; }
have_chromium() { [ -x /usr/bin/chromium ]; }
have_docker() { command -v docker >/dev/null 2>&1 && { command -v dockerd >/dev/null 2>&1 || [ -n "${DOCKER_HOST:-}" ]; }; }
have_debootstrap() { command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ]; }

packages=()
if $always || ! have_postgres; then packages+=(postgresql-15 postgresql-client-15); fi
if $always || ! have_mariadb; then packages+=(mariadb-server mariadb-client); fi
# Installed without recommends: prometheus recommends prometheus-node-exporter, another daemon nothing here uses.
lean_packages=()
if $always || ! have_promtool; then lean_packages+=(prometheus); fi
if $always || ! have_chromium; then lean_packages+=(chromium); fi
if $always || ! have_docker; then lean_packages+=(docker.io); fi
if $always || ! have_debootstrap; then lean_packages+=(debootstrap); fi
if $always || ! command -v docker-compose >/dev/null 2>&1; then lean_packages+=(docker-compose); fi

if [ $((${#packages[@]} + ${#lean_packages[@]})) -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "setup: please install: ${packages[*]} ${lean_packages[*]}" >&2; exit 1
  fi
  # The project runs PostgreSQL in data directories of its own; don't let the package create and start a system cluster.
  if ! have_postgres; then
    mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
  fi
  # Likewise MariaDB runs in data directories of its own, and only promtool is wanted from prometheus: a
  # policy-rc.d that denies every action keeps these packages from starting a system server (mariadbd, the
  # Prometheus server) while they install (removed again afterwards).
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  echo "setup: installing ${packages[*]} ${lean_packages[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  if [ ${#packages[@]} -gt 0 ]; then apt-get install -y -qq "${packages[@]}" >/dev/null; fi
  if [ ${#lean_packages[@]} -gt 0 ]; then apt-get install -y -qq --no-install-recommends "${lean_packages[@]}" >/dev/null; fi
fi
