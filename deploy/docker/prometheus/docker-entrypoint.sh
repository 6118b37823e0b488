#!/bin/sh
# The entrypoint of OfflineTasks' Prometheus image (offlinetasks/prometheus, Debian's prometheus and
# prometheus-alertmanager packages): Prometheus with the arguments given, like the official prom/prometheus image.
# offlinetasks/alertmanager is the same image with Alertmanager as its entrypoint (scripts/images.sh).
exec /usr/bin/prometheus "$@"
