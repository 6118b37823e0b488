#!/usr/bin/env bash
# Starts, stops or restarts a PostgreSQL server of the project's own on a loopback port,
# in a data directory of its own, from the machine's PostgreSQL packages (no Docker engine here).
#
#   scripts/pg-local.sh start   [DATADIR] [PORT]   initdb if needed, start, wait until it accepts connections
#   scripts/pg-local.sh stop    [DATADIR]          fast shutdown of the server started in DATADIR (by its pid)
#   scripts/pg-local.sh restart [DATADIR]
#   scripts/pg-local.sh url     [DATADIR] [PORT]   print the connection string
#
# Defaults: DATADIR=.local/pg (under the repository), PORT=54329. The server trusts local connections
# and listens on 127.0.0.1 only. As root, the server runs as the 'postgres' user.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}
datadir=${2:-$repo/.local/pg}
port=${3:-${OFFLINETASKS_PG_PORT:-54329}}

find_bin() {
  for d in "${PG_BIN:-}" /usr/lib/postgresql/*/bin; do
    [ -n "$d" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  done
  return 1
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

ensure_installed() {
  find_bin >/dev/null || "$repo/scripts/setup.sh"
  find_bin >/dev/null || { echo "pg-local: no PostgreSQL server binaries (install the 'postgresql-15' package)" >&2; exit 1; }
}

bin() { echo "$(find_bin)/$1"; }

case "$cmd" in
  start)
    ensure_installed
    mkdir -p "$datadir"
    datadir=$(cd "$datadir" && pwd)
    if [ "$(id -u)" = 0 ]; then chown postgres "$datadir"; chmod 700 "$datadir"; fi
    if [ ! -f "$datadir/PG_VERSION" ]; then
      as_owner "$(bin initdb)" -D "$datadir" -U postgres -A trust -E UTF8 --no-locale >"$datadir/../$(basename "$datadir").initdb.log" 2>&1 \
        || { cat "$datadir/../$(basename "$datadir").initdb.log" >&2; exit 1; }
    fi
    if as_owner "$(bin pg_ctl)" -D "$datadir" status >/dev/null 2>&1; then
      echo "pg-local: already running in $datadir" >&2
    else
      as_owner "$(bin pg_ctl)" -D "$datadir" -l "$datadir/server.log" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$datadir -c max_connections=200 -c shared_buffers=256MB -c fsync=on -c synchronous_commit=on" >/dev/null \
        || { tail -n 30 "$datadir/server.log" >&2; exit 1; }
    fi
    echo "Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres"
    ;;
  stop)
    [ -f "$datadir/postmaster.pid" ] || exit 0
    as_owner "$(bin pg_ctl)" -D "$datadir" -m fast -w -t 60 stop >/dev/null || true
    ;;
  restart)
    as_owner "$(bin pg_ctl)" -D "$datadir" -m fast -w -t 60 restart >/dev/null
    ;;
  url)
    echo "Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres"
    ;;
  *)
    echo "usage: $0 start|stop|restart|url [DATADIR] [PORT]" >&2; exit 2 ;;
esac
