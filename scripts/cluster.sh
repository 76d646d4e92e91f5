#!/usr/bin/env bash
# `make cluster`: the fleet on this machine (fleet/__main__.py): HAProxy in front of daphnes,
# listeners, Redis with a replica and three sentinels, MariaDB. Ports and sizes by environment:
# CLUSTER_PORT, CLUSTER_BASE_PORT, CLUSTER_DAPHNES, CLUSTER_LISTENERS, CLUSTER_DATABASE_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m fleet "$@"
