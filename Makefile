# Two commands for a fresh machine: `make run` and `make test`.
.PHONY: run test setup bench-expiry bench-sockets

run:
	scripts/setup.sh run
	scripts/run.sh

test:
	scripts/setup.sh test
	scripts/test.sh $(PYTEST_ARGS)

bench-expiry:
	scripts/setup.sh test
	scripts/ensure_redis.sh
	.venv/bin/python manage.py migrate -v0
	.venv/bin/python bench/bench_expiry.py $(BENCH_ARGS)

bench-sockets:
	scripts/setup.sh test
	scripts/ensure_redis.sh
	.venv/bin/python manage.py migrate -v0
	.venv/bin/python bench/bench_sockets.py $(BENCH_ARGS)
