#!/usr/bin/env bash
# Sets up and runs every test. The tests start real PostgreSQL servers and MariaDB pairs themselves
# (scripts/pg-local.sh, scripts/mariadb-local.sh, data directories under .local/) and stop them; this script
# stops any they left behind.
# Ends with the line "N passed, N failed[, N skipped]" and exits non-zero on any failure.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

"$repo/scripts/setup.sh" || exit 1

stop_servers() {
  for d in "$repo"/.local/test-*/; do
    [ -f "$d/postmaster.pid" ] && "$repo/scripts/pg-local.sh" stop "${d%/}"
  done
  for d in "$repo"/.local/test-mariadb-*/; do
    [ -f "$d/a/my.cnf" ] && "$repo/scripts/mariadb-local.sh" stop "${d%/}"
  done
  return 0
}
trap stop_servers EXIT

log=$(mktemp)
dotnet test OfflineTasks.sln -c Release --logger "console;verbosity=normal" --blame-hang-timeout 10m "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# The summary block of each test run: "Total tests: 35" then "     Passed: 34", "     Failed: 1", "    Skipped: 0".
read -r passed failed skipped < <(awk '
  /^Total tests:/ { block = 1; next }
  block && /^ +Passed: +[0-9]+/  { p += $2; next }
  block && /^ +Failed: +[0-9]+/  { f += $2; next }
  block && /^ +Skipped: +[0-9]+/ { s += $2; next }
  block { block = 0 }
  END { print p + 0, f + 0, s + 0 }' "$log")
rm -f "$log"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi  # build failure or crashed test host
if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"; else echo "$passed passed, $failed failed"; fi
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
