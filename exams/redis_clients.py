"""Redis clients: one sync client per process, one asyncio client per event loop."""

import asyncio
import os
import weakref

import redis
import redis.asyncio as aioredis
from django.conf import settings

# Fail fast when Redis is down instead of hanging a request.
_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5, "health_check_interval": 30}

_sync_client: redis.Redis | None = None
_sync_pid: int | None = None
_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis]" = weakref.WeakKeyDictionary()


def get_redis() -> redis.Redis:
    """The process's sync client (thread-safe pool), made anew after a fork."""
    global _sync_client, _sync_pid
    if _sync_client is None or _sync_pid != os.getpid():
        _sync_client = redis.Redis.from_url(
            settings.REDIS_URL, max_connections=settings.REDIS_MAX_CONNECTIONS, **_OPTIONS
        )
        _sync_pid = os.getpid()
    return _sync_client


def get_async_redis() -> aioredis.Redis:
    """The running loop's asyncio client, created on first use (never shared across loops)."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = aioredis.Redis.from_url(
            settings.REDIS_URL, max_connections=settings.REDIS_MAX_CONNECTIONS, **_OPTIONS
        )
        _async_clients[loop] = client
    return client


async def close_async_redis() -> None:
    """Close the running loop's client (on shutdown)."""
    client = _async_clients.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()
