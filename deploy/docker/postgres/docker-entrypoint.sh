#!/bin/bash
# The entrypoint of OfflineTasks' PostgreSQL image (offlinetasks/postgres, built from Debian's packages by
# scripts/images.sh), like the official image's on what docker-compose.yml uses: an empty data directory is
# initialized (POSTGRES_HOST_AUTH_METHOD: trust or md5 with POSTGRES_PASSWORD), the server listens on 5432 on every
# interface, and arguments that start with '-' go to postgres.
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
data=/var/lib/postgresql/data
if [ $# -eq 0 ] || [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi
[ "$1" = postgres ] || exec "$@"
shift
mkdir -p "$data" /run/postgresql
chown -R postgres:postgres "$data" /run/postgresql
chmod 700 "$data"
if [ ! -s "$data/PG_VERSION" ]; then
  method=${POSTGRES_HOST_AUTH_METHOD:-md5}
  printf '%s' "${POSTGRES_PASSWORD:-}" > /tmp/pwfile
  chown postgres /tmp/pwfile
  su postgres -s /bin/sh -c "$bin/initdb -D $data -U postgres --auth-local=trust --auth-host=$method $( [ -n "${POSTGRES_PASSWORD:-}" ] && echo --pwfile=/tmp/pwfile )" >/dev/null
  rm -f /tmp/pwfile
  echo "host all all 0.0.0.0/0 $method" >> "$data/pg_hba.conf"
  echo "host all all ::/0 $method" >> "$data/pg_hba.conf"
fi
exec su postgres -s /bin/sh -c "exec $bin/postgres -D $data -c listen_addresses='*' -c unix_socket_directories=/run/postgresql $*"
