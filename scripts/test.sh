#!/usr/bin/env bash
# Sets up and runs every test. The tests start real PostgreSQL servers and MariaDB pairs themselves
# (scripts/pg-local.sh, scripts/mariadb-local.sh, data directories under .local/) and stop them; this script
# stops any they left behind. The container tests need a Docker engine: this script uses the one configured
# (DOCKER_HOST, or the default socket) or starts one of its own (scripts/docker-engine.sh), builds the project's
# MariaDB image once (scripts/images.sh, cached under .local/images/), and afterwards removes the tests' leftover
# containers and networks (by label) and stops the engine it started. Last, it brings the docker-compose stack up and
# checks it (scripts/compose-smoke.sh), counted as one test.
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
engine_started=false
stop_docker() {
  if [ -n "${DOCKER_HOST:-}" ]; then
    docker ps -aq --filter label=org.offlinetasks.test | xargs -r docker rm -f >/dev/null 2>&1
    docker network ls -q --filter label=org.offlinetasks.test | xargs -r docker network rm >/dev/null 2>&1
  fi
  if $engine_started; then "$repo/scripts/docker-engine.sh" stop; fi
  return 0
}
trap 'stop_servers; stop_docker' EXIT

# A Docker engine and the project's images, or a clear message saying what is missing.
scripts/docker-engine.sh status >/dev/null 2>&1 || engine_started=true
if ! DOCKER_HOST=$("$repo/scripts/docker-engine.sh" start); then
  engine_started=false
  echo "test: the container tests need a Docker engine (see the message above); nothing was run" >&2
  echo "0 passed, 1 failed"; exit 1
fi
export DOCKER_HOST
# Testcontainers speaks the engine's API version (Debian's dockerd 20.10 speaks 1.41), and needs no resource reaper.
export DOCKER_API_VERSION=$(docker version -f '{{.Server.APIVersion}}')
export TESTCONTAINERS_RYUK_DISABLED=true
images_started=$SECONDS
if ! "$repo/scripts/images.sh" mariadb; then
  echo "test: the project's MariaDB image could not be built (see above); nothing was run" >&2
  echo "0 passed, 1 failed"; exit 1
fi
echo "test: images ready in $((SECONDS - images_started)) s" >&2

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

# The compose stack, as one more test (scripts/compose-smoke.sh), on the same engine.
if "$repo/scripts/compose-smoke.sh"; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi
if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"; else echo "$passed passed, $failed failed"; fi
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
