#!/usr/bin/env bash
# compose-smoke.sh — the docker-compose stack really runs: brings it up on the project's Docker engine (or the one
# configured), waits for health, enqueues jobs and sees them succeed, stresses shard users-1's pair (STOP SLAVE) and
# sees the shard close on the dashboard's Shards page and in Prometheus (the metric and the ALERTS series), then
# takes the stack down with its volumes. Ends with "compose-smoke: ok" or "compose-smoke: FAILED: what"; the stack's
# logs are left in .local/compose-smoke.log.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
started=$SECONDS
project=offlinetasks-smoke

engine_started=false
"$repo/scripts/docker-engine.sh" status >/dev/null 2>&1 || engine_started=true
DOCKER_HOST=$("$repo/scripts/docker-engine.sh" start) || { echo "compose-smoke: FAILED: no Docker engine (see above)"; exit 1; }
export DOCKER_HOST
export DOCKER_API_VERSION=$(docker version -f '{{.Server.APIVersion}}')
command -v docker-compose >/dev/null || { echo "compose-smoke: FAILED: docker-compose is missing: apt-get install docker-compose (scripts/setup.sh installs it)"; exit 1; }

compose() { docker-compose -p "$project" -f "$repo/docker-compose.yml" "$@"; }
cleanup() {
  compose logs --no-color > "$repo/.local/compose-smoke.log" 2>&1 || true
  compose down -v --remove-orphans >/dev/null 2>&1 || true
  if $engine_started; then "$repo/scripts/docker-engine.sh" stop; fi
}
fail() { echo "compose-smoke: FAILED: $*"; exit 1; }
# until SECONDS WHAT COMMAND...: runs COMMAND every second until it succeeds, or fails naming WHAT.
until_ok() {
  local limit=$1 what=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || fail "$what (waited $limit s)"
    sleep 1
  done
  echo "compose-smoke: $what ($((SECONDS - started)) s)" >&2
}

"$repo/scripts/images.sh" mariadb postgres prometheus host >&2
trap cleanup EXIT
compose down -v --remove-orphans >/dev/null 2>&1 || true
compose up -d >&2 || fail "docker-compose up"

healthy() { [ "$(docker inspect -f '{{.State.Health.Status}}' "$(compose ps -q host)")" = healthy ]; }
until_ok 240 "the host is healthy" healthy

ids=$(compose exec -T host /app/OfflineTasks.Host enqueue 1 20 | sed -n 's/^offlinetasks: enqueued 20 jobs of shard users-1: //p')
[ -n "$ids" ] || fail "enqueue printed no job ids"
in_list=$(echo "$ids" | tr ' ' ',')
succeeded() { [ "$(compose exec -T postgres psql -U postgres -tAc "SELECT count(*) FROM hangfire.job WHERE id IN ($in_list) AND statename = 'Succeeded'" | tr -d '[:space:]')" = 20 ]; }
until_ok 120 "the 20 jobs succeeded" succeeded

compose exec -T mariadb-1b mariadb --no-defaults -uroot -e "STOP SLAVE" || fail "STOP SLAVE on mariadb-1b"
table() { compose exec -T host curl -fsS http://127.0.0.1:5080/hangfire/offlinetasks/shards/table; }
closed_on_page() { table | tr -d '\n' | grep -q 'data-shard="users-1">.*label-danger offlinetasks-mode">closed</span>.*replication IO thread not running on users-1b'; }
until_ok 60 "the Shards page shows users-1 closed, naming the master" closed_on_page
table | tr -d '\n' | grep -q 'data-shard="users-2">.*label-success offlinetasks-mode">open</span>' || fail "users-2 is not open on the Shards page"

query() { curl -fsS -G http://127.0.0.1:9090/api/v1/query --data-urlencode "query=$1"; }
metric_closed() { query 'offlinetasks_shard_state{shard="users-1",state="closed"} == 1' | grep -q '"shard":"users-1"'; }
until_ok 90 "Prometheus sees users-1 closed (offlinetasks_shard_state)" metric_closed
alert_pending() { query 'ALERTS{alertname="OfflineTasksShardClosed",shard="users-1"}' | grep -q '"alertstate":"pending"'; }
until_ok 60 "Prometheus' ALERTS has OfflineTasksShardClosed for users-1" alert_pending

echo "compose-smoke: ok in $((SECONDS - started)) s"
