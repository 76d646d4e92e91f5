#!/usr/bin/env bash
# The gates (scripts/check.sh), then the whole test suite against the configured database
# (SQLite by default) and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/check.sh
scripts/ensure_redis.sh
exec .venv/bin/pytest "$@"
