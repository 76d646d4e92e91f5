"""Redis clients: two sync clients per process, one asyncio client per event loop.

- `get_redis()`: work that must happen (arming a new attempt's timer, an extension, the
  listener's reconciler). It fails within settings.REDIS_TIMEOUT, so a hung Redis turns
  into a 503 in seconds, not a hung request.
- `get_optional_redis()`: best-effort work on a request's path that the database can
  rebuild (re-arming a timer the reconciler re-arms anyway). It gives up within
  settings.OPTIONAL_REDIS_TIMEOUT (~0.1 s): a hung Redis must never hold an answer.
"""

import asyncio
import os
import weakref
from typing import Any

import redis
import redis.asyncio as aioredis
from django.conf import settings

# The listener's keyspace subscription and the sweeper read on this client.
_ASYNC_OPTIONS: dict[str, Any] = {"socket_connect_timeout": 2, "socket_timeout": 5, "health_check_interval": 30}

_sync_clients: dict[str, tuple[tuple[int, str], redis.Redis]] = {}
_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis]" = weakref.WeakKeyDictionary()


def _per_process(kind: str, timeout: float) -> redis.Redis:
    # Made anew after a fork or when settings.REDIS_URL changes (tests point it elsewhere).
    ident = (os.getpid(), settings.REDIS_URL)
    cached = _sync_clients.get(kind)
    if cached is None or cached[0] != ident:
        client = redis.Redis.from_url(
            settings.REDIS_URL,
            max_connections=settings.REDIS_MAX_CONNECTIONS,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            health_check_interval=30,
        )
        cached = _sync_clients[kind] = (ident, client)
    return cached[1]


def get_redis() -> redis.Redis:
    """The process's sync client for required work (thread-safe pool)."""
    return _per_process("required", settings.REDIS_TIMEOUT)


def get_optional_redis() -> redis.Redis:
    """The process's fast-failing sync client for best-effort work; callers catch redis.RedisError."""
    return _per_process("optional", settings.OPTIONAL_REDIS_TIMEOUT)


def get_async_redis() -> aioredis.Redis:
    """The running loop's asyncio client, created on first use (never shared across loops)."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = aioredis.Redis.from_url(
            settings.REDIS_URL, max_connections=settings.REDIS_MAX_CONNECTIONS, **_ASYNC_OPTIONS
        )
        _async_clients[loop] = client
    return client


def reset_clients() -> None:
    """Forget every cached client: the next use connects to settings.REDIS_URL afresh (tests
    point it at a server of their own). The sync pools are closed; an async client is dropped
    unclosed, since its loop may be gone."""
    for _, client in _sync_clients.values():
        client.close()
    _sync_clients.clear()
    _async_clients.clear()


async def close_async_redis() -> None:
    """Close the running loop's client (on shutdown)."""
    client = _async_clients.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()
