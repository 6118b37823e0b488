#!/usr/bin/env bash
# Sets up and runs the main job: starts a local PostgreSQL of the project's own (.local/pg, port 54329),
# runs the worker server with example jobs enqueued (OfflineTasks.Host demo), then stops the server it started.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

"$repo/scripts/setup.sh"
connection=$("$repo/scripts/pg-local.sh" start)
trap '"$repo/scripts/pg-local.sh" stop' EXIT
OfflineTasks__ConnectionString="$connection" dotnet run --project src/OfflineTasks.Host -c Release -- demo "$@"
