# Two commands for a fresh machine: `make run` and `make test`.
.PHONY: run test check setup bench-expiry bench-dashboard bench-sockets drills drills-setup bench-hardclose bench-handshakes bench-start bench-extend cluster cluster-down

run:
	scripts/setup.sh run
	scripts/run.sh

test:
	scripts/setup.sh test
	scripts/test.sh $(PYTEST_ARGS)

# The gates alone (lint, format, types, browser-module tests); `make test` runs them first.
check:
	scripts/setup.sh test
	scripts/check.sh

bench-expiry:
	scripts/setup.sh test
	scripts/ensure_redis.sh
	.venv/bin/python manage.py migrate -v0
	.venv/bin/python bench/bench_expiry.py $(BENCH_ARGS)

# The dashboard in headless Chromium with 1,000 students (the test database and fixtures of the suite).
bench-dashboard:
	scripts/setup.sh test
	scripts/ensure_redis.sh
	.venv/bin/pytest bench/bench_dashboard.py -s -q -p no:cacheprovider $(BENCH_ARGS)

bench-sockets:
	scripts/setup.sh test
	scripts/ensure_redis.sh
	.venv/bin/python manage.py migrate -v0
	.venv/bin/python bench/bench_sockets.py $(BENCH_ARGS)

# The drills and fan-out benches start their own redis-server, daphnes and listeners; they use
# MariaDB (DRILLS_DATABASE_URL, default mysql://root@127.0.0.1:3306/drills_exam), created and migrated here.
DRILLS_DATABASE_URL ?= mysql://root@127.0.0.1:3306/drills_exam
DRILLS ?= all
DRILLS_ARGS ?=

drills-setup:
	DATABASE_URL=$(DRILLS_DATABASE_URL) scripts/setup.sh test
	.venv/bin/python -c 'import environ, MySQLdb; u = environ.Env.db_url_config("$(DRILLS_DATABASE_URL)"); \
	  c = MySQLdb.connect(host=u["HOST"] or "127.0.0.1", port=int(u["PORT"] or 3306), user=u["USER"], passwd=u["PASSWORD"]); \
	  c.cursor().execute("CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4" % u["NAME"]); c.close()'
	DATABASE_URL=$(DRILLS_DATABASE_URL) .venv/bin/python manage.py migrate -v0

drills: drills-setup
	DRILLS_DATABASE_URL=$(DRILLS_DATABASE_URL) .venv/bin/python -m bench.drills --drills $(DRILLS) $(DRILLS_ARGS)

bench-hardclose: drills-setup
	DRILLS_DATABASE_URL=$(DRILLS_DATABASE_URL) .venv/bin/python bench/bench_fanout.py hardclose $(BENCH_ARGS)

bench-handshakes: drills-setup
	DRILLS_DATABASE_URL=$(DRILLS_DATABASE_URL) .venv/bin/python bench/bench_fanout.py handshakes $(BENCH_ARGS)

bench-extend: drills-setup
	DRILLS_DATABASE_URL=$(DRILLS_DATABASE_URL) .venv/bin/python bench/bench_fanout.py extend $(BENCH_ARGS)

# The fleet on this machine (README "A fleet"): HAProxy on CLUSTER_PORT (8080) in front of
# CLUSTER_DAPHNES daphnes, CLUSTER_LISTENERS listeners, Redis with a replica and three sentinels
# (ports from CLUSTER_BASE_PORT, 18000), MariaDB (CLUSTER_DATABASE_URL). Ctrl-C stops it.
CLUSTER_DATABASE_URL ?= mysql://root@127.0.0.1:3306/cluster_exam

cluster:
	DATABASE_URL=$(CLUSTER_DATABASE_URL) scripts/setup.sh cluster
	CLUSTER_DATABASE_URL=$(CLUSTER_DATABASE_URL) scripts/cluster.sh

# Stops a `make cluster` running in the background (or another terminal).
cluster-down:
	@if [ -s .run/cluster.pid ]; then kill -TERM $$(cat .run/cluster.pid) && echo "stopping the fleet"; else echo "no fleet running"; fi

bench-start: drills-setup
	DRILLS_DATABASE_URL=$(DRILLS_DATABASE_URL) .venv/bin/python bench/bench_start.py $(BENCH_ARGS)
