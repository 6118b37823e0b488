#!/usr/bin/env bash
# Sets up and runs the main job on local servers the project starts itself: a PostgreSQL (.local/pg, port 54329)
# for Hangfire's storage and OfflineTasks' tables, and a MariaDB master-master pair (.local/demo-mariadb, ports
# 54341/54342) as shard users-1. The worker executable (Hangfire's server, the gate, the dashboard, /metrics) runs
# example jobs; the demo stops replication on one master to show the shard closing and its jobs parked, and starts
# it again to show them released and run. Stops both servers afterwards.
#   scripts/demo.sh --keep    keeps the host (and the servers) running at the end, to look at the dashboard; Ctrl+C stops all
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

"$repo/scripts/setup.sh"
pair="$repo/.local/demo-mariadb"
stop() {
  "$repo/scripts/mariadb-local.sh" stop "$pair" || true
  "$repo/scripts/pg-local.sh" stop || true
}
trap stop EXIT
connection=$("$repo/scripts/pg-local.sh" start)
"$repo/scripts/mariadb-local.sh" start "$pair" 54341 54342 >/dev/null

shard=OfflineTasks__Gate__Shards__users-1__Masters
env OfflineTasks__ConnectionString="$connection" \
  "${shard}__0__Port=54341" "${shard}__0__User=probe" "${shard}__0__PasswordEnvironmentVariable=OFFLINETASKS_DEMO_PROBE_PASSWORD" \
  "${shard}__1__Port=54342" "${shard}__1__User=probe" "${shard}__1__PasswordEnvironmentVariable=OFFLINETASKS_DEMO_PROBE_PASSWORD" \
  OFFLINETASKS_DEMO_PROBE_PASSWORD=probe-pass \
  Demo__MariaDbScript="$repo/scripts/mariadb-local.sh" Demo__MariaDbPair="$pair" \
  dotnet run --project src/OfflineTasks.Host -c Release -- demo "$@"
