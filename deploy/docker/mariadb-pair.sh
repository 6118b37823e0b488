#!/usr/bin/env bash
# mariadb-pair.sh A B [A B ...] — one-shot setup of docker-compose's MariaDB master-master pairs (each A <-> B): the
# same users and replication as scripts/mariadb-local.sh sets up for local servers. Users are created with binary
# logging off and both binary logs are reset, so that neither master has GTIDs the other would have to fetch.
set -euo pipefail

sql() { mariadb --no-defaults -h "$1" -uroot --connect-timeout=5 -e "$2"; }

while [ $# -ge 2 ]; do
  a=$1 b=$2; shift 2
  for node in "$a" "$b"; do
    peer=$([ "$node" = "$a" ] && echo "$b" || echo "$a")
    sql "$node" "
      SET SESSION sql_log_bin = 0;
      STOP ALL SLAVES;
      RESET SLAVE ALL;
      CREATE OR REPLACE USER 'repl'@'%' IDENTIFIED BY 'repl-pass';
      GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';
      CREATE OR REPLACE USER 'probe'@'%' IDENTIFIED BY 'probe-pass';
      GRANT PROCESS, BINLOG MONITOR, SLAVE MONITOR ON *.* TO 'probe'@'%';
      RESET MASTER;
      SET GLOBAL gtid_slave_pos = '';
      CHANGE MASTER TO MASTER_HOST = '$peer', MASTER_PORT = 3306, MASTER_USER = 'repl', MASTER_PASSWORD = 'repl-pass',
        MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1;"
  done
  for node in "$a" "$b"; do sql "$node" "START SLAVE"; done
  echo "mariadb-pair: $a and $b replicate from each other"
done
