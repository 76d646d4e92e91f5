#!/usr/bin/env bash
# The gates that keep the code as it is meant to be: lint, format, types, the browser modules' tests.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "ruff check"; .venv/bin/ruff check .
echo "ruff format --check"; .venv/bin/ruff format --check .
echo "mypy (exams, realtime)"; .venv/bin/mypy
echo "node --test tests/js/"; node --test --test-reporter=spec tests/js/
echo "tsc -p tsconfig.json"
[ -x node_modules/.bin/tsc ] || { echo "node_modules/.bin/tsc is missing: run scripts/setup.sh test (it runs npm ci)" >&2; exit 1; }
node_modules/.bin/tsc -p tsconfig.json
