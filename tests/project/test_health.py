"""/healthz and /readyz (project/health.py): what load balancers and compose's healthchecks ask."""

import pytest
from django.test import Client


@pytest.mark.django_db
def test_healthz_answers_while_the_process_serves():
    reply = Client().get("/healthz")
    assert (reply.status_code, reply.content) == (200, b"ok\n")


@pytest.mark.django_db
def test_readyz_checks_the_database_and_redis():
    reply = Client().get("/readyz")
    assert (reply.status_code, reply.content) == (200, b"database: ok\nredis: ok\n")


@pytest.mark.django_db
def test_readyz_is_503_while_redis_is_down(private_redis):
    private_redis.kill()
    reply = Client().get("/readyz")
    assert (reply.status_code, reply.content) == (503, b"database: ok\nredis: unavailable\n")
