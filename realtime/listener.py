"""The expiry engine: three paths that each time out due attempts through `services`.

- keyspace: Redis `expired` events of `exam:timer:*` keys (fast, but may lag or be lost);
  every listener hears every event, so each claims the event's attempt from the index first;
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
from concurrent.futures import ThreadPoolExecutor

import redis
import redis.asyncio as aioredis
from redis.connection import parse_url
from django.conf import settings
from django.db import DatabaseError

from exams import clock, notifications, presence, services, timers
from exams.models import ExpiryPath
from exams.redis_clients import close_async_redis, get_async_redis

from .db import in_pool

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 10.0
# Expiry batches committing at once (each in a thread of its own). A batch's notifications
# (two group sends per attempt) go out after its commit, in other threads, so that they
# never hold up the next batch's commit.
BATCHES_IN_FLIGHT = 2
NOTIFY_THREADS = 2
_config_refused_warned = False


async def enable_keyspace_events(client: aioredis.Redis) -> bool:
    """Merge `E` and `x` into notify-keyspace-events; False where CONFIG is refused."""
    try:
        flags = (await client.config_get("notify-keyspace-events")).get("notify-keyspace-events", "")
        wanted = flags + "".join(f for f in "Ex" if f not in flags and not (f == "x" and "A" in flags))
        if wanted != flags:
            await client.config_set("notify-keyspace-events", wanted)
        return True
    except redis.ResponseError as exc:
        # Once per process: a managed Redis refuses CONFIG on every reconnect alike.
        global _config_refused_warned
        if not _config_refused_warned:
            _config_refused_warned = True
            logger.warning(
                "cannot enable keyspace notifications (%s); relying on the sweeper and reconciler", exc
            )
        return False


def _summary(path: str, claimed: int, ended: list, started: float) -> None:
    if not claimed:
        return
    # `ended` holds the attempts flipped; each ended_at is its timed_out event's time.
    late = sorted(clock.to_ms(a.ended_at) - clock.to_ms(a.deadline_at) for a in ended)
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
        # At start the reconciler goes first: it finds in the database, in one query, all that
        # fell due while no listener ran; the sweeper and keyspace batches wait for its first try.
        self.reconciled = asyncio.Event()
        self.slots = asyncio.Semaphore(BATCHES_IN_FLIGHT)
        self.batches: set[asyncio.Task] = set()
        # One more thread than batches, for the reconciler; each thread keeps its DB connection.
        self.executor = ThreadPoolExecutor(BATCHES_IN_FLIGHT + 1, thread_name_prefix="expiry-db")
        self.notifier = ThreadPoolExecutor(NOTIFY_THREADS, thread_name_prefix="expiry-notify")
        self.redis_answering_since: float | None = None

    # --- shared ----------------------------------------------------------------------

    def db(self, func, executor: ThreadPoolExecutor | None = None):
        """`func` made awaitable, run in one of the listener's own threads (each keeps its connection)."""
        return in_pool(func, executor or self.executor)

    async def expire(self, ids: list[int], path: str) -> list:
        started = time.monotonic()
        ended = await self.db(services.expire_attempts)(attempt_ids=ids, path=path, notify=False)
        _summary(path, len(ids), ended, started)
        return ended

    def start_batch(self, ids: list[int], path: str) -> None:
        """Expire `ids` in the background; the slot the caller acquired is released at the commit."""
        task = asyncio.create_task(self._batch(ids, path))
        self.batches.add(task)
        task.add_done_callback(self.batches.discard)

    async def _batch(self, ids: list[int], path: str) -> None:
        try:
            ended = await self.expire(ids, path)
            leftover = set(ids) - {a.pk for a in ended}
            if leftover:
                # Claimed but not due in the database (extended meanwhile): back in the index.
                await self.db(services.rearm)(attempt_ids=leftover)
        except asyncio.CancelledError:
            raise
        except (redis.RedisError, OSError, DatabaseError) as exc:
            logger.warning("%s batch of %d failed (%s); the reconciler will catch them", path, len(ids), exc)
            return
        except Exception:
            logger.exception("%s batch of %d failed; the reconciler will catch them", path, len(ids))
            return
        finally:
            self.slots.release()
        if ended:
            # Committed: tell the students and proctors (as services would have, on commit).
            try:
                await self.db(notifications.attempts_ended, self.notifier)(
                    [a.pk for a in ended], bound=notifications.BATCH_PUBLISH
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("notifying %d timeouts failed", len(ended))

    async def reconcile(self) -> None:
        started = time.monotonic()
        try:
            flipped, restored = await self.db(services.reconcile)(batch_size=self.batch_size)
        finally:
            self.reconciled.set()
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

    async def sweep_presence(self) -> None:
        """Disconnect the students of daphne processes that stopped beating (killed, host lost).

        Only once Redis has answered this listener for a whole timeout: after an outage every
        process looks silent until it beats again, and is not dead.
        """
        try:
            await get_async_redis().ping()
        except BaseException:
            self.redis_answering_since = None
            raise
        now = time.monotonic()
        if self.redis_answering_since is None:
            self.redis_answering_since = now
        if now - self.redis_answering_since < presence.PROCESS_TIMEOUT_SECONDS:
            return
        down = await presence.sweep_dead_processes(clock.now_ms())
        if down:
            logger.warning("presence: %d attempts lost their last socket with a dead process", len(down))
            await self.db(services.record_presence, self.notifier)(connected=[], disconnected=down)

    # --- the three paths -----------------------------------------------------------

    async def _claim_and_start(self, claim, path: str) -> None:
        """Take a batch slot, then claim ids with `claim()` and expire them in the background.

        Claiming only once a slot is free leaves what this listener can't work on to others.
        """
        await self.slots.acquire()
        try:
            ids = await claim()
        except BaseException:
            self.slots.release()
            raise
        if ids:
            self.start_batch(ids, path)
        else:
            self.slots.release()

    async def sweep_once(self) -> None:
        await self.reconciled.wait()
        await self._claim_and_start(lambda: timers.aclaim_due(limit=self.batch_size), ExpiryPath.SWEEPER)

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
        """Expire keyspace events in batches: whatever arrived by the time a batch can start."""
        ids = [await self.events.get()]
        await self.reconciled.wait()

        async def claim() -> list[int]:
            while len(ids) < self.batch_size and not self.events.empty():
                ids.append(self.events.get_nowait())
            # Every listener hears every event: only ids still in the index are this one's.
            return await timers.aclaim(ids)

        await self._claim_and_start(claim, ExpiryPath.KEYSPACE)

    async def run(self) -> None:
        tasks = [
            asyncio.create_task(self._forever("keyspace listener", self.listen_keyspace, 0), name="keyspace"),
            asyncio.create_task(self._forever("keyspace batches", self.drain_events, 0), name="drain"),
            asyncio.create_task(self._forever("sweeper", self.sweep_once, self.sweep_interval), name="sweeper"),
            asyncio.create_task(
                self._forever("reconciler", self.reconcile, self.reconcile_interval), name="reconciler"
            ),
            asyncio.create_task(
                self._forever("presence sweeper", self.sweep_presence, presence.HEARTBEAT_SECONDS), name="presence"
            ),
        ]
        await self.stopping.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Batches under way finish: their ids are already claimed.
        await asyncio.gather(*self.batches, return_exceptions=True)
        # In a thread: a call still running there may need this loop to send its notifications.
        await asyncio.to_thread(self.executor.shutdown, wait=True)
        await asyncio.to_thread(self.notifier.shutdown, wait=True)
        await close_async_redis()
        logger.info("listener stopped")

    def stop(self) -> None:
        self.stopping.set()


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")
