#!/usr/bin/env bash
# Migrate, seed the demo, then serve: two expiry listeners in the background, daphne in front.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure_redis.sh
if [ -z "${SECRET_KEY:-}" ] && ! grep -qs '^SECRET_KEY=' .env; then
  [ -s .run/secret_key ] || .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(48))' > .run/secret_key
  export SECRET_KEY=$(cat .run/secret_key)
fi
PORT=${PORT:-8000}
.venv/bin/python manage.py migrate --noinput -v0
.venv/bin/python manage.py seed_demo | head -n -1
# Two expiry listeners: if one dies, the other carries on (claims are leases, every timeout a
# compare-and-set). Each serves its own /metrics port (LISTENER_METRICS_PORT=0: none).
# Daphne runs as a child too (no exec), so that however this script ends, all of them stop.
metrics=${LISTENER_METRICS_PORT:-9108}
children=()
trap 'kill "${children[@]}" 2>/dev/null; wait "${children[@]}" 2>/dev/null' EXIT
trap 'exit 130' INT TERM
for n in 0 1; do
  LISTENER_METRICS_PORT=$(( metrics ? metrics + n : 0 )) .venv/bin/python manage.py run_timer_listener &
  children+=($!)
done
cat <<TXT

  Student page:   http://127.0.0.1:$PORT/
  Proctor page:   http://127.0.0.1:$PORT/proctor/
  API docs:       http://127.0.0.1:$PORT/api/docs/
  Admin:          http://127.0.0.1:$PORT/admin/ (create a superuser with: .venv/bin/python manage.py createsuperuser)
  Logins above; Ctrl-C stops the server and the listeners.

TXT
.venv/bin/python -m project.serve -b 127.0.0.1 -p "$PORT" project.asgi:application &
children+=($!)
wait "${children[-1]}"
