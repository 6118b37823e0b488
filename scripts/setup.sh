#!/usr/bin/env bash
# Installs what OfflineTasks needs to run and test on a fresh Debian machine that has the .NET SDK:
# PostgreSQL and MariaDB server binaries (for the local servers the scripts and tests start) and MariaDB
# Connector/C (libmariadb3, which the MySQL status probe loads). Installs only what is missing, unless --always
# is given (CI). Needs root for apt-get; prints what to install otherwise.
set -euo pipefail

always=false
[ "${1:-}" = "--always" ] && always=true

command -v dotnet >/dev/null || { echo "setup: the .NET SDK (dotnet) is required: https://dot.net" >&2; exit 1; }

have_postgres() { ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; }
have_mariadb() { { command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; } && ldconfig -p | grep "libmariadb.so.3 " >/dev/null; }

packages=()
if $always || ! have_postgres; then packages+=(postgresql-15 postgresql-client-15); fi
if $always || ! have_mariadb; then packages+=(mariadb-server mariadb-client libmariadb3); fi

if [ ${#packages[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "setup: please install: ${packages[*]}" >&2; exit 1
  fi
  # The project runs PostgreSQL in data directories of its own; don't let the package create and start a system cluster.
  if ! have_postgres; then
    mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
  fi
  # Likewise MariaDB runs in data directories of its own: a policy-rc.d that denies every action keeps the
  # package from starting a system server while it installs (removed again afterwards).
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  echo "setup: installing ${packages[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${packages[@]}" >/dev/null
fi
