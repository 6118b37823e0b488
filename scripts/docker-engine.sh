#!/usr/bin/env bash
# docker-engine.sh start|stop|status — a Docker engine for the tests, CI and the compose smoke test.
#
#   start   uses the engine already configured (DOCKER_HOST, or the default socket) if it answers; otherwise starts
#           dockerd with its data, exec root and socket under .local/docker/, waits until it answers, and prints
#           the DOCKER_HOST to use (unix://…) on standard output.
#   stop    stops the engine this script started (by its pid), and nothing else.
#   status  prints the DOCKER_HOST of a running engine, or fails.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
dir="$repo/.local/docker"
sock="$dir/docker.sock"
pidfile="$dir/docker.pid"
own="unix://$sock"

answers() { DOCKER_HOST="$1" timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

external() {
  if [ -n "${DOCKER_HOST:-}" ] && [ "$DOCKER_HOST" != "$own" ]; then
    answers "$DOCKER_HOST" && { echo "$DOCKER_HOST"; return 0; }
    echo "docker-engine: DOCKER_HOST=$DOCKER_HOST does not answer; starting an engine of the project's own" >&2
    return 1
  fi
  if [ -S /var/run/docker.sock ] && answers unix:///var/run/docker.sock; then echo unix:///var/run/docker.sock; return 0; fi
  return 1
}

case "${1:-}" in
  start)
    command -v docker >/dev/null || { echo "docker-engine: the docker command is missing: apt-get install docker.io (scripts/setup.sh installs it)" >&2; exit 1; }
    external && exit 0
    if running && answers "$own"; then echo "$own"; exit 0; fi
    command -v dockerd >/dev/null || { echo "docker-engine: no Docker engine answers and dockerd is not installed: apt-get install docker.io (scripts/setup.sh installs it), or set DOCKER_HOST to an engine" >&2; exit 1; }
    [ "$(id -u)" = 0 ] || { echo "docker-engine: starting dockerd needs root; run as root, or set DOCKER_HOST to an engine you can use" >&2; exit 1; }
    mkdir -p "$dir"
    rm -f "$sock"
    # setsid: the engine outlives this script, and is stopped by its pid.
    setsid dockerd --data-root "$dir/root" --exec-root "$dir/exec" -H "$own" --pidfile "$pidfile" \
      --log-level warn >"$dir/dockerd.log" 2>&1 < /dev/null &
    for _ in $(seq 1 120); do
      if answers "$own"; then echo "docker-engine: started dockerd (pid $(cat "$pidfile")), $own" >&2; echo "$own"; exit 0; fi
      sleep 0.5
    done
    echo "docker-engine: dockerd did not answer within 60 s; tail of $dir/dockerd.log:" >&2
    tail -20 "$dir/dockerd.log" >&2 || true
    exit 1
    ;;
  stop)
    running || exit 0
    pid=$(cat "$pidfile")
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || { echo "docker-engine: stopped dockerd (pid $pid)" >&2; exit 0; }; sleep 0.5; done
    echo "docker-engine: dockerd (pid $pid) did not stop within 30 s; killing it" >&2
    kill -9 "$pid" 2>/dev/null || true
    ;;
  status)
    external && exit 0
    running && answers "$own" && { echo "$own"; exit 0; }
    exit 1
    ;;
  *)
    echo "usage: docker-engine.sh start|stop|status" >&2; exit 2 ;;
esac
