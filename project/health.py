"""Health endpoints for load balancers and orchestrators (plain text, outside the API).

- `/healthz`: the process serves requests (liveness: restart it if this fails);
- `/readyz`: it can do its work: the database and Redis answer (readiness: send it traffic only
  while this passes). A draining process has closed its port already (project/graceful.py).
"""

import logging

import redis
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse

from exams.redis_clients import get_redis

logger = logging.getLogger(__name__)


def healthz(request: HttpRequest) -> HttpResponse:
    """Alive: 200 `ok`."""
    return HttpResponse("ok\n", content_type="text/plain")


def readyz(request: HttpRequest) -> HttpResponse:
    """Ready: 200 when the database and Redis (through the sentinels, if configured) answer, else 503."""
    checks = {"database": _database(), "redis": _redis()}
    ready = all(result == "ok" for result in checks.values())
    body = "".join(f"{name}: {result}\n" for name, result in checks.items())
    return HttpResponse(body, status=200 if ready else 503, content_type="text/plain")


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except DatabaseError as exc:
        logger.warning("readyz: database unavailable (%s)", exc)
        return "unavailable"


def _redis() -> str:
    try:
        get_redis().ping()
        return "ok"
    except (redis.RedisError, OSError) as exc:
        logger.warning("readyz: Redis unavailable (%s)", exc)
        return "unavailable"
