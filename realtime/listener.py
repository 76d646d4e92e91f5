"""The expiry engine: three paths that each time out due attempts through `services`.

- keyspace: Redis `expired` events of `exam:timer:*` keys (fast, but may lag or be lost);
- sweeper: claims due members of the deadline index every SWEEP_INTERVAL_MS;
- reconciler: on every (re)connect and every RECONCILE_INTERVAL_SECONDS, times out what
  the database says is overdue and rebuilds what Redis lost.

Any number of listeners may run: claims are atomic and every transition is a
compare-and-set, so each attempt is flipped once.
"""

import asyncio
import logging
import statistics
import time

import redis
import redis.asyncio as aioredis
from redis.connection import parse_url
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError

from exams import services, timers
from exams.models import ExpiryPath
from exams.redis_clients import close_async_redis

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 10.0


async def enable_keyspace_events(client: aioredis.Redis) -> bool:
    """Merge `E` and `x` into notify-keyspace-events; False where CONFIG is refused."""
    try:
        flags = (await client.config_get("notify-keyspace-events")).get("notify-keyspace-events", "")
        wanted = flags + "".join(f for f in "Ex" if f not in flags and not (f == "x" and "A" in flags))
        if wanted != flags:
            await client.config_set("notify-keyspace-events", wanted)
        return True
    except redis.ResponseError as exc:
        logger.warning(
            "cannot enable keyspace notifications (%s); relying on the sweeper and reconciler", exc
        )
        return False


def _summary(path: str, claimed: int, ended: list, started: float) -> None:
    late = sorted(e.lateness_ms for e in ended)
    if not claimed:
        return
    logger.info(
        "%s: %d claimed, %d timed out in %.0f ms%s",
        path, claimed, len(ended), (time.monotonic() - started) * 1000,
        f"; lateness ms p50={statistics.median(late):.0f} max={late[-1]}" if late else "",
    )


class ExpiryListener:
    def __init__(self) -> None:
        cfg = settings.EXAM
        self.sweep_interval = cfg["SWEEP_INTERVAL_MS"] / 1000
        self.reconcile_interval = cfg["RECONCILE_INTERVAL_SECONDS"]
        self.batch_size = cfg["SWEEP_BATCH_SIZE"]
        self.events: asyncio.Queue[int] = asyncio.Queue()
        self.stopping = asyncio.Event()

    # --- shared ----------------------------------------------------------------------

    async def expire(self, ids: list[int], path: str) -> list:
        started = time.monotonic()
        ended = await database_sync_to_async(services.expire_attempts)(attempt_ids=ids, path=path)
        _summary(path, len(ids), ended, started)
        return ended

    async def reconcile(self) -> None:
        started = time.monotonic()
        flipped, restored = await database_sync_to_async(services.reconcile)(batch_size=self.batch_size)
        if flipped or restored:
            logger.info(
                "reconciler: %d overdue timed out, %d timers restored in %.0f ms",
                flipped, restored, (time.monotonic() - started) * 1000,
            )

    async def _forever(self, name: str, step, pause: float) -> None:
        """Run `step` until stopped; log failures, back off, carry on."""
        backoff = 0.5
        while not self.stopping.is_set():
            try:
                await step()
                backoff = 0.5
                delay = pause
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError, DatabaseError) as exc:
                logger.warning("%s: %s; retrying in %.1fs", name, exc, backoff)
                delay, backoff = backoff, min(backoff * 2, MAX_BACKOFF_SECONDS)
            except Exception:
                logger.exception("%s failed; retrying in %.1fs", name, backoff)
                delay, backoff = backoff, min(backoff * 2, MAX_BACKOFF_SECONDS)
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=delay)
            except TimeoutError:
                pass

    # --- the three paths -----------------------------------------------------------

    async def sweep_once(self) -> None:
        ids = await timers.aclaim_due(limit=self.batch_size)
        if not ids:
            return
        ended = await self.expire(ids, ExpiryPath.SWEEPER)
        leftover = set(ids) - {a.pk for a in ended}
        if leftover:
            # Claimed but not due in the database (extended meanwhile): back in the index.
            await database_sync_to_async(services.rearm)(attempt_ids=leftover)

    async def listen_keyspace(self) -> None:
        """Subscribe to expired events; reconcile on every connect, since a gap loses events."""
        db = parse_url(settings.REDIS_URL).get("db", 0)
        client = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, health_check_interval=10)
        try:
            await enable_keyspace_events(client)
            async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                await pubsub.subscribe(f"__keyevent@{db}__:expired")
                logger.info("listening for expired timer keys on db %s", db)
                await self.reconcile()
                async for message in pubsub.listen():
                    attempt_id = timers.attempt_id_from_key(_text(message.get("data")))
                    if attempt_id is not None:
                        self.events.put_nowait(attempt_id)
        finally:
            await client.aclose()

    async def drain_events(self) -> None:
        """Expire keyspace events in batches: whatever arrived while the last batch ran."""
        ids = [await self.events.get()]
        while len(ids) < self.batch_size and not self.events.empty():
            ids.append(self.events.get_nowait())
        await self.expire(ids, ExpiryPath.KEYSPACE)

    async def run(self) -> None:
        tasks = [
            asyncio.create_task(self._forever("keyspace listener", self.listen_keyspace, 0), name="keyspace"),
            asyncio.create_task(self._forever("keyspace batches", self.drain_events, 0), name="drain"),
            asyncio.create_task(self._forever("sweeper", self.sweep_once, self.sweep_interval), name="sweeper"),
            asyncio.create_task(
                self._forever("reconciler", self.reconcile, self.reconcile_interval), name="reconciler"
            ),
        ]
        await self.stopping.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await close_async_redis()
        logger.info("listener stopped")

    def stop(self) -> None:
        self.stopping.set()


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")
