#!/usr/bin/env bash
# Starts and stops a MariaDB master-master pair of the project's own on loopback ports, in data directories of
# its own, from the machine's MariaDB packages (no Docker engine here). For tests and the demo.
#
#   scripts/mariadb-local.sh start     DIR PORT_A PORT_B   initialise if needed, start both masters, replicate both ways
#   scripts/mariadb-local.sh stop      DIR                 stop both (by the pids in their pid files)
#   scripts/mariadb-local.sh stop-one  DIR a|b             stop one master, keeping its data and replication settings
#   scripts/mariadb-local.sh start-one DIR a|b             start it again; replication resumes by itself
#   scripts/mariadb-local.sh pid       DIR a|b             print the master's mariadbd pid
#   scripts/mariadb-local.sh sql       DIR a|b "STATEMENT" run a statement as root through the socket, print rows tab-separated
#
# Layout: DIR/a and DIR/b each hold my.cnf, data/, error.log, mariadbd.pid and the socket (mariadbd.sock).
# Users on both masters: root (through the socket, no password), probe/probe-pass (PROCESS, BINLOG MONITOR,
# SLAVE MONITOR: enough for SHOW GLOBAL STATUS and SHOW SLAVE STATUS), app/app-pass (all privileges) and
# repl/repl-pass (replication). Servers listen on 127.0.0.1 only. Prints one summary line on stdout for start;
# diagnostics go to stderr, with the tail of the error log when a server fails.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}

usage() {
  echo "usage: $0 start DIR PORT_A PORT_B | stop DIR | stop-one DIR a|b | start-one DIR a|b | pid DIR a|b | sql DIR a|b STATEMENT" >&2
  exit 2
}
say() { echo "mariadb-local: $*" >&2; }
die() { say "$*"; exit 1; }

start_timeout=${OFFLINETASKS_MARIADB_START_TIMEOUT:-60}   # seconds, per server start
stop_timeout=30                                            # seconds before SIGKILL
replication_timeout=30                                     # seconds for both threads of both channels to run

ensure_installed() {
  command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || "$repo/scripts/setup.sh"
  command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] \
    || die "no MariaDB server binaries (install the 'mariadb-server' package)"
}

mariadbd_bin() { command -v mariadbd 2>/dev/null || echo /usr/sbin/mariadbd; }

# The directory of one master; the pair's directory must exist.
node_dir() { echo "$dir/$1"; }
other() { if [ "$1" = a ]; then echo b; else echo a; fi; }
pid_file() { echo "$(node_dir "$1")/mariadbd.pid"; }
socket() { echo "$(node_dir "$1")/mariadbd.sock"; }
error_log() { echo "$(node_dir "$1")/error.log"; }
config() { echo "$(node_dir "$1")/my.cnf"; }
port_of() { sed -n 's/^port=//p' "$(config "$1")"; }

# A process that exists and is not a zombie (zombies answer kill -0 until reaped).
alive() {
  local pid=$1 state
  kill -0 "$pid" 2>/dev/null || return 1
  state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$state" != Z ]
}

# The pid of the master's mariadbd if it runs; empty otherwise. The process must be a mariadbd started with
# this master's config: a stale pid file whose pid now belongs to another process does not count, and a
# server whose pid file is gone is still found by its command line.
running_pid() {
  local f pid p
  f=$(pid_file "$1")
  if [ -f "$f" ]; then
    pid=$(tr -dc '0-9' <"$f")
    if [ -n "$pid" ] && started_with_config "$pid" "$1"; then echo "$pid"; return 0; fi
  fi
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    if started_with_config "$pid" "$1"; then echo "$pid"; return 0; fi
  done
  return 0
}

started_with_config() { # started_with_config PID NODE
  alive "$1" || return 1
  tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | grep -xF -- "--defaults-file=$(config "$2")" >/dev/null
}

client() { # client NODE [mariadb options...]: the mariadb client as root through the socket
  local node=$1; shift
  mariadb --no-defaults --protocol=socket --socket="$(socket "$node")" -uroot --connect-timeout=5 "$@"
}

write_config() { # write_config NODE PORT SERVER_ID
  local node=$1 port=$2 id=$3 d
  d=$(node_dir "$node")
  mkdir -p "$d/tmp"
  cat >"$(config "$node")" <<EOF
# Written by scripts/mariadb-local.sh; master $node of the pair in $dir.
[mariadbd]
datadir=$d/data
port=$port
socket=$d/mariadbd.sock
pid-file=$d/mariadbd.pid
log-error=$d/error.log
# Its own temporary directory: two pairs installing at once would clash on the same temporary table names in /tmp.
tmpdir=$d/tmp
bind-address=127.0.0.1
skip-name-resolve
server-id=$id
gtid-domain-id=$id
log-bin=binlog
relay-log=relay-bin
log-slave-updates
binlog-format=ROW
binlog-expire-logs-seconds=86400
auto-increment-increment=2
auto-increment-offset=$id
# Replication comes back by itself: slave threads start with the server (no skip-slave-start), the IO thread
# retries every MASTER_CONNECT_RETRY (1 s, set by CHANGE MASTER) and notices a silent master within 10 s.
master-retry-count=100000
slave-net-timeout=10
character-set-server=utf8mb4
collation-server=utf8mb4_general_ci
max-connections=100
performance-schema=OFF
innodb-buffer-pool-size=32M
innodb-log-file-size=16M
innodb-log-buffer-size=4M
key-buffer-size=4M
aria-pagecache-buffer-size=8M
table-open-cache=400
EOF
}

# Waits until the master answers on its socket, failing early if its process dies.
wait_until_up() { # wait_until_up NODE PID
  local node=$1 pid=$2 deadline=$((SECONDS + start_timeout))
  until client "$node" -e 'SELECT 1' >/dev/null 2>&1; do
    if ! alive "$pid"; then
      say "master $node (pid $pid) exited while starting; tail of $(error_log "$node"):"
      tail -n 30 "$(error_log "$node")" >&2 2>/dev/null || true
      return 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      say "master $node did not accept connections within ${start_timeout} s; tail of $(error_log "$node"):"
      tail -n 30 "$(error_log "$node")" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.1
  done
}

# Starts one master in the background, detached from this script's output and session, and waits for it.
start_node() { # start_node NODE
  local node=$1 pid
  pid=$(running_pid "$node")
  if [ -n "$pid" ]; then
    say "master $node already running in $(node_dir "$node") (pid $pid)"
    # A test that stopped it (SIGSTOP) and died before resuming it must not leave it hung for the next run.
    if [ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" = T ]; then
      say "master $node was stopped (SIGSTOP); resuming it"
      kill -CONT "$pid" 2>/dev/null || true
    fi
    return 0
  fi
  rm -f "$(pid_file "$node")" "$(socket "$node")"
  local user=()
  [ "$(id -u)" = 0 ] && user=(--user=root)
  setsid "$(mariadbd_bin)" --defaults-file="$(config "$node")" "${user[@]}" </dev/null >>"$(error_log "$node")" 2>&1 &
  pid=$!
  wait_until_up "$node" "$pid"
}

# Stops one master: SIGTERM (and SIGCONT, in case a test left it stopped), then SIGKILL after a bound.
stop_node() { # stop_node NODE
  local node=$1 pid deadline
  pid=$(running_pid "$node")
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  kill -CONT "$pid" 2>/dev/null || true
  deadline=$((SECONDS + stop_timeout))
  while alive "$pid"; do
    if [ $SECONDS -ge $deadline ]; then
      say "master $node (pid $pid) did not stop within ${stop_timeout} s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      deadline=$((SECONDS + 10))
      while alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
      alive "$pid" && die "master $node (pid $pid) survived SIGKILL"
      break
    fi
    sleep 0.1
  done
  rm -f "$(pid_file "$node")"
}

initialise_node() { # initialise_node NODE
  local node=$1 user=() log
  [ -d "$(node_dir "$node")/data/mysql" ] && return 0
  log="$(node_dir "$node")/install-db.log"
  rm -rf "$(node_dir "$node")/data"
  [ "$(id -u)" = 0 ] && user=(--user=root)
  mariadb-install-db --defaults-file="$(config "$node")" "${user[@]}" --auth-root-authentication-method=normal \
    --skip-test-db --skip-name-resolve >"$log" 2>&1 \
    || { say "mariadb-install-db failed for master $node:"; tail -n 30 "$log" >&2; rm -rf "$(node_dir "$node")/data"; return 1; }
}

# Users are created with binary logging off on each master, and both binary logs are reset, so that neither
# master has GTIDs the other would have to fetch (diverging histories stop the IO thread with error 1236).
configure_node() { # configure_node NODE
  local node=$1 peer_port
  peer_port=$(port_of "$(other "$node")")
  client "$node" <<EOF
SET SESSION sql_log_bin = 0;
STOP ALL SLAVES;
RESET SLAVE ALL;
DROP USER IF EXISTS ''@'localhost', ''@'$(uname -n)', 'root'@'$(uname -n)';
CREATE OR REPLACE USER 'repl'@'%' IDENTIFIED BY 'repl-pass';
GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';
CREATE OR REPLACE USER 'probe'@'%' IDENTIFIED BY 'probe-pass';
GRANT PROCESS, BINLOG MONITOR, SLAVE MONITOR ON *.* TO 'probe'@'%';
CREATE OR REPLACE USER 'app'@'%' IDENTIFIED BY 'app-pass';
GRANT ALL PRIVILEGES ON *.* TO 'app'@'%';
RESET MASTER;
SET GLOBAL gtid_slave_pos = '';
CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = $peer_port, MASTER_USER = 'repl',
  MASTER_PASSWORD = 'repl-pass', MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1;
EOF
}

# Waits until both threads of both masters' channels run; prints the last state of each on failure.
wait_for_replication() {
  local deadline=$((SECONDS + replication_timeout)) node status ok
  while :; do
    ok=true
    for node in a b; do
      status=$(client "$node" -e 'SHOW SLAVE STATUS\G' 2>/dev/null || true)
      grep -q 'Slave_IO_Running: Yes' <<<"$status" && grep -q 'Slave_SQL_Running: Yes' <<<"$status" || ok=false
    done
    $ok && return 0
    if [ $SECONDS -ge $deadline ]; then
      say "replication did not start on both masters within ${replication_timeout} s:"
      for node in a b; do
        client "$node" -e 'SHOW SLAVE STATUS\G' 2>&1 | grep -E 'Slave_(IO|SQL)_Running:|Last_(IO|SQL)_Error:' | sed "s/^ */  $node: /" >&2 || true
      done
      return 1
    fi
    sleep 0.1
  done
}

summary() { echo "MariaDB pair: a=127.0.0.1:$(port_of a) b=127.0.0.1:$(port_of b) probe/probe-pass app/app-pass root (no password)"; }

# The pair's directory as an absolute path (the running servers' command lines name their config by it).
set_dir() {
  [ -n "$1" ] || usage
  dir=$(cd "$1" 2>/dev/null && pwd) || dir=$1
}

need_dir() {
  [ -f "$dir/a/my.cnf" ] && [ -f "$dir/b/my.cnf" ]
}

need_node() {
  case "${1:-}" in a|b) ;; *) usage ;; esac
  need_dir || die "no pair in $dir (run: $0 start DIR PORT_A PORT_B)"
}

case "$cmd" in
  start)
    [ $# -eq 4 ] || usage
    dir=$2; port_a=$3; port_b=$4
    ensure_installed
    mkdir -p "$dir/a" "$dir/b"
    dir=$(cd "$dir" && pwd)
    [ ${#dir} -le 80 ] || die "directory path too long for a unix socket: $dir"
    if [ -f "$dir/a/my.cnf" ] && { [ "$(port_of a)" != "$port_a" ] || [ "$(port_of b)" != "$port_b" ]; }; then
      die "the pair in $dir uses ports $(port_of a)/$(port_of b), not $port_a/$port_b (stop it and delete $dir to change them)"
    fi
    if [ -n "$(running_pid a)" ] && [ -n "$(running_pid b)" ] && [ -f "$dir/replicating" ]; then
      start_node a
      start_node b
      wait_for_replication
      summary
      exit 0
    fi
    # A pair that failed to come up is stopped again rather than left half running.
    trap 'status=$?; if [ $status -ne 0 ]; then say "stopping the pair in $dir after the failure"; stop_node a || true; stop_node b || true; fi' EXIT
    write_config a "$port_a" 1
    write_config b "$port_b" 2
    # Both initialise and start at once (the expensive part is each server's own start-up).
    initialise_node a & init_a=$!
    initialise_node b & init_b=$!
    wait $init_a || { wait $init_b || true; exit 1; }
    wait $init_b || exit 1
    start_node a & start_a=$!
    start_node b & start_b=$!
    wait $start_a || { wait $start_b || true; exit 1; }
    wait $start_b || exit 1
    if [ ! -f "$dir/replicating" ]; then
      configure_node a
      configure_node b
      client a -e 'START SLAVE'
      client b -e 'START SLAVE'
      touch "$dir/replicating"
    fi
    wait_for_replication
    summary
    ;;
  stop)
    [ $# -eq 2 ] || usage
    set_dir "$2"
    need_dir || exit 0
    stop_node a & stop_a=$!
    stop_node b & stop_b=$!
    status=0
    wait $stop_a || status=1
    wait $stop_b || status=1
    exit $status
    ;;
  stop-one)
    [ $# -eq 3 ] || usage
    set_dir "$2"
    need_node "$3"
    stop_node "$3"
    ;;
  start-one)
    [ $# -eq 3 ] || usage
    set_dir "$2"
    need_node "$3"
    [ -f "$dir/replicating" ] || die "the pair in $dir was never set up (run: $0 start DIR PORT_A PORT_B)"
    start_node "$3"
    if [ -n "$(running_pid "$(other "$3")")" ]; then wait_for_replication; fi
    ;;
  pid)
    [ $# -eq 3 ] || usage
    set_dir "$2"
    need_node "$3"
    pid=$(running_pid "$3")
    [ -n "$pid" ] || die "master $3 is not running"
    echo "$pid"
    ;;
  sql)
    [ $# -eq 4 ] || usage
    set_dir "$2"
    need_node "$3"
    client "$3" -N -B -e "$4"
    ;;
  *)
    usage ;;
esac
