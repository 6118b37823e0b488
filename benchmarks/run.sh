#!/usr/bin/env bash
# Runs one of the project's benchmarks against servers of its own, and prints its one summary line last.
#
#   benchmarks/run.sh throughput     no-op Hangfire jobs with and without the gate (8 workers, one process per
#                                    round), next to pgbench -N TPS of the same PostgreSQL (see docs/benchmarks.md)
#   benchmarks/run.sh telemetry      the leader's sample on 1,000,000 jobs in Hangfire's tables, one /metrics scrape,
#                                    and no-op job throughput with telemetry on / off (see docs/benchmarks.md)
#   benchmarks/run.sh gate           the gate under real stress on one of two MariaDB master-master pairs, with
#                                    worker processes running Hangfire and the gate at its defaults (see docs/benchmarks.md)
#
# The PostgreSQL comes from scripts/pg-local.sh, in .local/bench-pg on port 54339 (override with
# BENCH_PG_DATA / BENCH_PG_PORT); throughput also starts a MariaDB master-master pair (scripts/mariadb-local.sh,
# .local/bench-mariadb, ports 54351/54352) as the gated rounds' shard. Both are stopped again on exit, by their
# data directories.
# Knobs: BENCH_N (20000), BENCH_WORKERS (8), BENCH_ROUNDS (3 pairs of rounds), BENCH_PGBENCH_SECONDS (20),
# BENCH_PGBENCH_SCALE (10), BENCH_PG_STAT_STATEMENTS=1 (load pg_stat_statements and print the top statements of
# the run to stderr).
# telemetry: BENCH_TELEMETRY_JOBS (1000000), BENCH_N (20000) and BENCH_WORKERS (8) per overhead round,
# BENCH_OVERHEAD_ROUNDS (3 pairs), BENCH_TELEMETRY_ARGS (further harness options, e.g. "--phases depth").
# gate: a second pair in .local/bench-mariadb-2 (ports 54353/54354); BENCH_GATE_REPS (3), BENCH_GATE_ARGS (further
# harness options, e.g. "--phases stress --noise-seconds 20").
# Progress goes to stderr; stdout carries only the summary line.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
pg_data=${BENCH_PG_DATA:-$repo/.local/bench-pg}
pg_port=${BENCH_PG_PORT:-54339}
bench_project=$repo/benchmarks/OfflineTasks.Benchmarks
bench_dll=$bench_project/bin/Release/net10.0/OfflineTasks.Benchmarks.dll

usage() {
  cat >&2 <<USAGE
usage: benchmarks/run.sh <benchmark>

benchmarks:
  throughput   enqueue_per_s, process_per_s (plain Hangfire), gated_process_per_s (with the gate, jobs on an open
               shard) and gated_vs_ungated of no-op jobs (n=\${BENCH_N:-20000}, workers=\${BENCH_WORKERS:-8}),
               next to pgbench -N TPS of the same PostgreSQL
  gate         decision_ns, gated_vs_ungated, probe_qps_1proc/4proc, reaction_ms, resume_ms, flaps_per_min,
               closed_pct_noisy, parked_fetches, release_per_s, process_per_s, started_while_closed, lost: two MariaDB
               pairs, one stressed (SELECT SLEEP, connections, STOP SLAVE, shutdown, SIGSTOP, noise), \${BENCH_GATE_REPS:-3} repetitions
  telemetry    depth_query_ms (the leader's sample with \${BENCH_TELEMETRY_JOBS:-1000000} jobs in Hangfire's tables),
               scrape_ms (one /metrics scrape) and overhead_ratio (no-op job throughput with telemetry on / off,
               \${BENCH_OVERHEAD_ROUNDS:-3} pairs of rounds of n=\${BENCH_N:-20000})
USAGE
}

log() { echo "run.sh: $*" >&2; }

find_pg_tool() {
  local tool=$1 d
  for d in "${PG_BIN:-}" /usr/lib/postgresql/*/bin; do
    [ -n "$d" ] && [ -x "$d/$tool" ] && { echo "$d/$tool"; return 0; }
  done
  command -v "$tool" || { log "$tool not found (install the postgresql packages)"; return 1; }
}

# ---- shared steps ----

build_bench() {
  log "building the benchmark (Release)"
  local out
  out=$(dotnet build "$bench_project" -c Release -nologo -v quiet 2>&1) \
    || { printf '%s\n' "$out" >&2; log "build failed"; return 1; }
}

pg_started=
start_pg() {
  mkdir -p "$(dirname "$pg_data")"
  log "starting PostgreSQL in $pg_data on port $pg_port"
  "$repo/scripts/pg-local.sh" start "$pg_data" "$pg_port" >/dev/null
  pg_started=1
  if [ "${BENCH_PG_STAT_STATEMENTS:-0}" = 1 ]; then
    psql_pg -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" >/dev/null
    "$repo/scripts/pg-local.sh" restart "$pg_data"
    psql_pg -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
  else
    # A data dir left from a profiling run keeps its ALTER SYSTEM settings: measure without the extension.
    if [ -n "$(psql_pg -Atc "SHOW shared_preload_libraries")" ]; then
      psql_pg -c "ALTER SYSTEM RESET ALL" >/dev/null
      "$repo/scripts/pg-local.sh" restart "$pg_data"
    fi
  fi
}

stop_pg() {
  if [ -n "$pg_started" ]; then
    log "stopping PostgreSQL in $pg_data"
    "$repo/scripts/pg-local.sh" stop "$pg_data" || true
    pg_started=
  fi
}
mariadb_pair=${BENCH_MARIADB_DIR:-$repo/.local/bench-mariadb}
mariadb_pair2=${BENCH_MARIADB_DIR_2:-$repo/.local/bench-mariadb-2}
mariadb_started=()   # the pair directories this run started, stopped on exit

# start_mariadb DIR PORT_A PORT_B
start_mariadb() {
  log "starting a MariaDB master-master pair in $1 on ports $2/$3"
  "$repo/scripts/mariadb-local.sh" start "$1" "$2" "$3" >/dev/null
  mariadb_started+=("$1")
}

stop_mariadb() {
  local dir
  for dir in "${mariadb_started[@]}"; do
    log "stopping the MariaDB pair in $dir"
    "$repo/scripts/mariadb-local.sh" stop "$dir" || true
  done
  mariadb_started=()
}

stop_all() { stop_mariadb; stop_pg; }
trap stop_all EXIT
trap 'exit 130' INT TERM

psql_pg() { PGOPTIONS="-c client_min_messages=warning" "$(find_pg_tool psql)" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres "$@"; }

# pgbench -N (simple-update without the branch/teller updates) with 8 clients against the same server,
# in a database of its own. Prints the TPS (without the initial connection time).
measure_pgbench() {
  local pgbench scale=${BENCH_PGBENCH_SCALE:-10} seconds=${BENCH_PGBENCH_SECONDS:-20} out tps
  pgbench=$(find_pg_tool pgbench)
  psql_pg -c "DROP DATABASE IF EXISTS pgbench" -c "CREATE DATABASE pgbench" >/dev/null
  log "pgbench -i -s $scale"
  out=$("$pgbench" -i -q -s "$scale" -h 127.0.0.1 -p "$pg_port" -U postgres pgbench 2>&1) \
    || { printf '%s\n' "$out" >&2; log "pgbench -i failed"; return 1; }
  log "pgbench -N -c 8 -j 2 -T $seconds"
  out=$("$pgbench" -N -c 8 -j 2 -T "$seconds" -h 127.0.0.1 -p "$pg_port" -U postgres pgbench 2>&1) \
    || { printf '%s\n' "$out" >&2; log "pgbench failed"; return 1; }
  tps=$(printf '%s\n' "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | tail -n 1)
  [ -n "$tps" ] || { printf '%s\n' "$out" >&2; log "could not read the TPS from pgbench"; return 1; }
  log "pgbench_tps=$tps"
  psql_pg -c "DROP DATABASE pgbench" >/dev/null
  echo "$tps"
}

print_top_statements() {
  [ "${BENCH_PG_STAT_STATEMENTS:-0}" = 1 ] || return 0
  log "top statements of the benchmark run (pg_stat_statements, database postgres):"
  psql_pg -P pager=off -c "
    SELECT calls, round(total_exec_time::numeric, 0) AS total_ms, round(mean_exec_time::numeric, 3) AS mean_ms,
           rows, round(rows::numeric / greatest(calls, 1), 1) AS rows_per_call,
           left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS query
    FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
    WHERE d.datname = 'postgres'
    ORDER BY total_exec_time DESC LIMIT 15" >&2
}

# ---- benchmarks ----

bench_throughput() {
  build_bench
  start_pg
  start_mariadb "$mariadb_pair" 54351 54352
  local tps line
  tps=$(measure_pgbench)
  if [ "${BENCH_PG_STAT_STATEMENTS:-0}" = 1 ]; then psql_pg -c "SELECT pg_stat_statements_reset()" >/dev/null; fi
  log "running the throughput benchmark"
  line=$(dotnet "$bench_dll" throughput \
    --connection-string "Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=postgres;Maximum Pool Size=60" \
    --n "${BENCH_N:-20000}" --workers "${BENCH_WORKERS:-8}" --rounds "${BENCH_ROUNDS:-3}" \
    --shard-port-a 54351 --shard-port-b 54352 --pgbench-tps "$tps")
  print_top_statements
  stop_all
  echo "$line"
}

bench_telemetry() {
  build_bench
  start_pg
  local line
  log "running the telemetry benchmark"
  # shellcheck disable=SC2086 # BENCH_TELEMETRY_ARGS is a list of options
  line=$(dotnet "$bench_dll" telemetry \
    --connection-string "Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=postgres" \
    --jobs "${BENCH_TELEMETRY_JOBS:-1000000}" --n "${BENCH_N:-20000}" --workers "${BENCH_WORKERS:-8}" \
    --rounds "${BENCH_OVERHEAD_ROUNDS:-3}" ${BENCH_TELEMETRY_ARGS:-})
  print_top_statements
  stop_all
  echo "$line"
}

bench_gate() {
  build_bench
  start_pg
  start_mariadb "$mariadb_pair" 54351 54352
  start_mariadb "$mariadb_pair2" 54353 54354
  local line
  log "running the gate benchmark"
  # shellcheck disable=SC2086 # BENCH_GATE_ARGS is a list of options
  line=$(dotnet "$bench_dll" gate \
    --connection-string "Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=postgres;Maximum Pool Size=60" \
    --pairs "$mariadb_pair:54351,54352;$mariadb_pair2:54353,54354" --reps "${BENCH_GATE_REPS:-3}" ${BENCH_GATE_ARGS:-})
  stop_all
  echo "$line"
}

case "${1:-}" in
  throughput) bench_throughput ;;
  telemetry) bench_telemetry ;;
  gate) bench_gate ;;
  -h|--help|help) usage; exit 0 ;;
  *) usage; exit 2 ;;
esac
