#!/usr/bin/env bash
# The whole test suite against the configured database (SQLite by default) and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure_redis.sh
exec .venv/bin/pytest "$@"
