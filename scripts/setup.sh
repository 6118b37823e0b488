#!/usr/bin/env bash
# Installs what OfflineTasks needs to run and test on a fresh Debian machine that has the .NET SDK:
# PostgreSQL server binaries (for the local servers the scripts and tests start). Installs only what is
# missing, unless --always is given (CI). Needs root for apt-get; prints what to install otherwise.
set -euo pipefail

always=false
[ "${1:-}" = "--always" ] && always=true

command -v dotnet >/dev/null || { echo "setup: the .NET SDK (dotnet) is required: https://dot.net" >&2; exit 1; }

have_postgres() { ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; }

packages=()
if $always || ! have_postgres; then packages+=(postgresql-15 postgresql-client-15); fi

if [ ${#packages[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "setup: please install: ${packages[*]}" >&2; exit 1
  fi
  # The project runs PostgreSQL in data directories of its own; don't let the package create and start a system cluster.
  if ! have_postgres; then
    mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
  fi
  echo "setup: installing ${packages[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${packages[@]}" >/dev/null
fi
