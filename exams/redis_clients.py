"""Redis clients: two sync clients per process, one asyncio client per event loop; one place
that knows whether Redis is one server (REDIS_URL) or a master found through Sentinel.

- `get_redis()`: work that must happen (arming a new attempt's timer, an extension, the
  listener's reconciler). It fails within settings.REDIS_TIMEOUT, so a hung Redis turns
  into a 503 in seconds, not a hung request.
- `get_optional_redis()`: best-effort work on a request's path that the database can
  rebuild (re-arming a timer the reconciler re-arms anyway). It gives up within
  settings.OPTIONAL_REDIS_TIMEOUT (~0.1 s): a hung Redis must never hold an answer.

With settings.REDIS_SENTINELS set, every pool here (and the cache's, `CachePool`, and the
channel layer's, `channel_layer_hosts`) asks the sentinels for the master of
settings.REDIS_SENTINEL_MASTER on each new connection; REDIS_URL then gives only the database
number and the password. A connection to a master that died fails, the next one goes to the
master the sentinels promoted; `watch_master_switches` tells the listener and each daphne's hub
at once, and they drop their connections to the old master (one that hangs rather than died
would otherwise hold whatever waits on it until its socket timeout).
"""

import asyncio
import logging
import os
import weakref
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import redis
import redis.asyncio as aioredis
import redis.asyncio.sentinel as aiosentinel
import redis.sentinel
from django.conf import settings
from redis.connection import parse_url

logger = logging.getLogger(__name__)

# The listener's keyspace subscription and the sweeper read on this client.
_ASYNC_OPTIONS: dict[str, Any] = {"socket_connect_timeout": 2, "socket_timeout": 5, "health_check_interval": 30}
# A sentinel that does not answer within this is skipped for the next one.
SENTINEL_TIMEOUT = 0.5
# What the sentinels publish when they promote a replica: "<master name> <old ip> <old port> <new ip> <new port>".
SWITCH_MASTER_CHANNEL = "+switch-master"

_sync_clients: dict[str, tuple[tuple, redis.Redis]] = {}
_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis]" = weakref.WeakKeyDictionary()


# --- configuration (pure: project/settings.py uses these before Django is set up) ------------


def parse_sentinels(entries: Iterable[str]) -> list[tuple[str, int]]:
    """`["host:port", ...]` (REDIS_SENTINELS) as (host, port) pairs; the port defaults to 26379."""
    pairs = []
    for entry in entries:
        entry = entry.strip()
        if not entry:
            continue
        host, _, port = entry.rpartition(":") if ":" in entry else (entry, "", "26379")
        try:
            pairs.append((host.strip("[]"), int(port)))
        except ValueError:
            raise ValueError(f"REDIS_SENTINELS: {entry!r} is not host:port") from None
    return pairs


def _url_options(url: str) -> dict[str, Any]:
    """What a Sentinel-managed connection keeps of a Redis URL: database, user, password (not host, port)."""
    options = parse_url(url)
    for key in ("host", "port", "path", "connection_class"):
        options.pop(key, None)
    if url.startswith("rediss://"):
        options["ssl"] = True
    return options


def _sentinel_kwargs(password: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"socket_connect_timeout": SENTINEL_TIMEOUT, "socket_timeout": SENTINEL_TIMEOUT}
    if password:
        kwargs["password"] = password
    return kwargs


def channel_layer_hosts(
    url: str,
    *,
    sentinels: list[tuple[str, int]],
    master: str,
    sentinel_password: str = "",
    shard_urls: Iterable[str] = (),
    shard_masters: Iterable[str] = (),
    **options: Any,
) -> list[dict[str, Any]]:
    """channels-redis `hosts`: REDIS_URL's server, or the master behind the sentinels; or one
    entry per shard (CHANNEL_LAYER_REDIS_URLS, or CHANNEL_LAYER_SENTINEL_MASTERS on the same sentinels)."""
    if sentinels:
        return [
            {
                "master_name": name,
                "sentinels": sentinels,
                "sentinel_kwargs": _sentinel_kwargs(sentinel_password),
                **_url_options(url),
                **options,
            }
            for name in (list(shard_masters) or [master])
        ]
    return [{"address": address, **options} for address in (list(shard_urls) or [url])]


# --- pools and clients --------------------------------------------------------------------


def _target() -> tuple:
    """What the clients connect to; a client made for another target is made anew."""
    return (settings.REDIS_URL, tuple(settings.REDIS_SENTINELS), settings.REDIS_SENTINEL_MASTER)


def connection_pool(url: str, **options: Any) -> redis.ConnectionPool:
    """A sync pool for `url`'s server, or for the sentinels' current master when they are configured."""
    if not settings.REDIS_SENTINELS:
        return redis.ConnectionPool.from_url(url, **options)
    manager = redis.sentinel.Sentinel(
        settings.REDIS_SENTINELS, sentinel_kwargs=_sentinel_kwargs(settings.REDIS_SENTINEL_PASSWORD)
    )
    return redis.sentinel.SentinelConnectionPool(
        settings.REDIS_SENTINEL_MASTER, manager, **_url_options(url), **options
    )


def async_connection_pool(url: str, **options: Any) -> aioredis.ConnectionPool:
    """The asyncio counterpart of `connection_pool` (use it on one event loop only)."""
    if not settings.REDIS_SENTINELS:
        return aioredis.ConnectionPool.from_url(url, **options)
    manager = aiosentinel.Sentinel(
        settings.REDIS_SENTINELS, sentinel_kwargs=_sentinel_kwargs(settings.REDIS_SENTINEL_PASSWORD)
    )
    return aiosentinel.SentinelConnectionPool(settings.REDIS_SENTINEL_MASTER, manager, **_url_options(url), **options)


class CachePool:
    """Django's RedisCache `pool_class` (settings.CACHES): its LOCATION through `connection_pool`."""

    @classmethod
    def from_url(cls, url: str, **options: Any) -> redis.ConnectionPool:
        return connection_pool(url, **options)


def _per_process(kind: str, timeout: float) -> redis.Redis:
    # Made anew after a fork or when the target changes (tests point it elsewhere).
    ident = (os.getpid(), _target())
    cached = _sync_clients.get(kind)
    if cached is None or cached[0] != ident:
        pool = connection_pool(
            settings.REDIS_URL,
            max_connections=settings.REDIS_MAX_CONNECTIONS,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            health_check_interval=30,
        )
        cached = _sync_clients[kind] = (ident, redis.Redis.from_pool(pool))
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
        client = _async_clients[loop] = new_async_redis(max_connections=settings.REDIS_MAX_CONNECTIONS)
    return client


def new_async_redis(**options: Any) -> aioredis.Redis:
    """An asyncio client with a pool of its own (the listener's subscription); the caller closes it."""
    pool = async_connection_pool(settings.REDIS_URL, **{**_ASYNC_OPTIONS, **options})
    return aioredis.Redis.from_pool(pool)


def redis_db() -> int:
    """The database number the clients use (keyspace events are named by it)."""
    return int(parse_url(settings.REDIS_URL).get("db", 0) or 0)


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


async def drop_async_connections() -> None:
    """After a failover: the running loop's connections all go, the next ones ask the sentinels.

    Those in use too: a call waiting on an old master that hangs rather than died would wait
    out its socket timeout (5 s); closed, it fails now and its caller retries on the new one."""
    client = _async_clients.get(asyncio.get_running_loop())
    if client is not None:
        await client.connection_pool.disconnect(inuse_connections=True)


async def drop_layer_connections() -> None:
    """After a failover: the channel layer's connections on the running loop all go, in use too.

    The hub's fan-out receive blocks in BZPOPMIN; on a master that hangs rather than died it
    would wait out CHANNEL_LAYER_SOCKET_TIMEOUT (15 s) before trying the new one. channels-redis
    has no public way to close one loop's pools without first awaiting its pending clean-ups
    (on the hung master too), hence its per-loop layer here; the next call makes new pools,
    which ask the sentinels."""
    from channels.layers import get_channel_layer

    loop_layer = getattr(get_channel_layer(), "_layers", {}).get(asyncio.get_running_loop())
    if loop_layer is not None:
        await loop_layer.flush()


def drop_idle_sync_connections() -> None:
    """After a failover: the sync pools' idle connections go (those in use belong to other
    threads and fail within their timeout); otherwise each would first wait out REDIS_TIMEOUT
    on the old master."""
    for _, client in list(_sync_clients.values()):
        client.connection_pool.disconnect(inuse_connections=False)


async def watch_master_switches(
    on_switch: Callable[[str], Awaitable[None]], *, masters: Iterable[str] | None = None
) -> None:
    """With sentinels: await `on_switch("ip:port")` each time they promote a new master of ours
    (settings.REDIS_SENTINEL_MASTER, or each of `masters`).

    Listens on the first sentinel that answers; raises redis.ConnectionError when none does
    or the one listened to goes (the caller retries: a switch missed meanwhile still breaks
    the connections to the old master). Without sentinels there is nothing to watch: returns.
    """
    if not settings.REDIS_SENTINELS:
        return
    names = set(masters or [settings.REDIS_SENTINEL_MASTER])
    errors = []
    for host, port in settings.REDIS_SENTINELS:
        sentinel = aioredis.Redis(
            host=host,
            port=port,
            socket_connect_timeout=SENTINEL_TIMEOUT,
            health_check_interval=5,
            password=settings.REDIS_SENTINEL_PASSWORD or None,
        )
        try:
            async with sentinel.pubsub(ignore_subscribe_messages=True) as pubsub:
                try:
                    await pubsub.subscribe(SWITCH_MASTER_CHANNEL)
                except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                    errors.append(f"{host}:{port}: {exc}")
                    continue
                logger.info("watching sentinel %s:%s for failovers of %s", host, port, ", ".join(sorted(names)))
                async for message in pubsub.listen():
                    data = message.get("data")
                    fields = (data.decode() if isinstance(data, bytes) else str(data)).split()
                    if len(fields) == 5 and fields[0] in names:
                        await on_switch(f"{fields[3]}:{fields[4]}")
        finally:
            await sentinel.aclose()
    raise redis.ConnectionError("no sentinel answers: " + "; ".join(errors))
