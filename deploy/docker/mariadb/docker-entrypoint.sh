#!/bin/bash
# The entrypoint of OfflineTasks' MariaDB image (offlinetasks/mariadb, built from Debian's packages by
# scripts/images.sh). It behaves like the official mariadb/mysql images on what Testcontainers.MySql and the compose
# stack rely on: MYSQL_ROOT_PASSWORD (or MARIADB_ROOT_PASSWORD, or *_ALLOW_EMPTY_ROOT_PASSWORD), MYSQL_DATABASE,
# MYSQL_USER and MYSQL_PASSWORD create the root password, a database and a user with all rights on it when the data
# directory is empty; *.sql and *.sh in /docker-entrypoint-initdb.d run then; the server listens on 3306 on every
# interface; arguments that start with '-' are passed to mariadbd (replication options: --server-id, --log-bin, ...).
set -euo pipefail
# The clients below run with --no-defaults: Testcontainers writes a [client] section (its user and password) into
# /etc/mysql/my.cnf, which would override the root login here.

if [ $# -eq 0 ] || [ "${1#-}" != "$1" ]; then set -- mariadbd "$@"; fi
if [ "$1" != mariadbd ] && [ "$1" != mysqld ]; then exec "$@"; fi
shift

env_or() { local v; for name in "$@"; do v="${!name:-}"; if [ -n "$v" ]; then printf '%s' "$v"; return 0; fi; done; return 0; }
root_password=$(env_or MARIADB_ROOT_PASSWORD MYSQL_ROOT_PASSWORD)
allow_empty=$(env_or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD MYSQL_ALLOW_EMPTY_PASSWORD)
database=$(env_or MARIADB_DATABASE MYSQL_DATABASE)
user=$(env_or MARIADB_USER MYSQL_USER)
password=$(env_or MARIADB_PASSWORD MYSQL_PASSWORD)
datadir=/var/lib/mysql

mkdir -p /run/mysqld "$datadir"
chown mysql:mysql /run/mysqld "$datadir"

quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/\\\\/\\\\\\\\/g; s/'/\\\\'/g")"; }

if [ ! -d "$datadir/mysql" ]; then
  if [ -z "$root_password" ] && [ -z "$allow_empty" ]; then
    echo "docker-entrypoint: the data directory is empty: set MYSQL_ROOT_PASSWORD (or MYSQL_ALLOW_EMPTY_PASSWORD=1)" >&2
    exit 1
  fi
  echo "docker-entrypoint: initializing $datadir" >&2
  mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db --auth-root-authentication-method=normal >/dev/null
  mariadbd --user=mysql --datadir="$datadir" --skip-networking --socket=/run/mysqld/init.sock --skip-log-bin &
  init=$!
  for _ in $(seq 1 120); do mariadb-admin --no-defaults --socket=/run/mysqld/init.sock -uroot ping >/dev/null 2>&1 && break; sleep 0.25; done
  {
    echo "SET SESSION sql_log_bin = 0;"
    echo "DELETE FROM mysql.global_priv WHERE User = '' OR (User = 'root' AND Host NOT IN ('localhost'));"
    echo "CREATE USER 'root'@'%' IDENTIFIED BY $(quote "$root_password"); GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(quote "$root_password");"
    if [ -n "$database" ]; then echo "CREATE DATABASE IF NOT EXISTS \`$database\`;"; fi
    if [ -n "$user" ] && [ "$user" != root ]; then
      echo "CREATE USER $(quote "$user")@'%' IDENTIFIED BY $(quote "$password");"
      if [ -n "$database" ]; then echo "GRANT ALL ON \`$database\`.* TO $(quote "$user")@'%';"; fi
    fi
    echo "FLUSH PRIVILEGES;"
  } | mariadb --no-defaults --socket=/run/mysqld/init.sock -uroot
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sql) echo "docker-entrypoint: running $f" >&2; mariadb --no-defaults --socket=/run/mysqld/init.sock -uroot --password="$root_password" ${database:+"$database"} < "$f" ;;
      *.sh) echo "docker-entrypoint: running $f" >&2; . "$f" ;;
    esac
  done
  mariadb-admin --no-defaults --socket=/run/mysqld/init.sock -uroot --password="$root_password" shutdown
  wait "$init"
  echo "docker-entrypoint: initialized" >&2
fi

exec mariadbd --user=mysql --datadir="$datadir" --bind-address=0.0.0.0 --port=3306 --socket=/run/mysqld/mysqld.sock "$@"
