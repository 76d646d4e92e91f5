"""The expiry engine: three paths that each time out due attempts (through `batches`, which isolates failures).

- keyspace: Redis `expired` events of `exam:timer:*` keys (fast, but may lag or be lost);
  every listener hears every event, so each claims the event's attempt from the index first;
- sweeper: claims due members of the deadline index every SWEEP_INTERVAL_MS;
- reconciler: at start, on every (re)connect to Redis, when the database answers again after
  a failure and every RECONCILE_INTERVAL_SECONDS, times out what the database says is
  overdue and rebuilds what Redis lost.

Claims are leases (`timers`): a batch that commits settles them, a batch that fails gives
them back at once, and those of a listener that died are claimable again after
CLAIM_LEASE_MS. While the database is down, this listener claims nothing (what it would claim
stays claimable by others) and probes it; the moment it answers, the reconciler runs.

With Redis Sentinel (REDIS_SENTINELS), the sentinels' announcement of a failover makes the
listener subscribe on the new master, sweep and reconcile at once (`follow_failovers`).

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
from django.conf import settings
from django.db import DatabaseError

from exams import clock, delivery, notifications, presence, services, timers
from exams.models import Attempt, ExpiryPath
from exams.redis_clients import (
    close_async_redis,
    drop_async_connections,
    new_async_redis,
    redis_db,
    watch_master_switches,
)
from realtime.db import in_pool

from . import batches

logger = logging.getLogger(__name__)

# Retries after a failure start fast and stay fast: a dependency that comes back must be used
# within a second (issue 8 §7), and a retry that fails again costs a refused connection.
MIN_BACKOFF_SECONDS = 0.1
# The sweeper never loops faster than this when a claim comes back empty.
SWEEP_MIN_PAUSE_SECONDS = 0.02
MAX_BACKOFF_SECONDS = 1.0
# While the database is down, how often a cheap `SELECT 1` asks whether it is back.
DB_PROBE_SECONDS = 0.2
# Expiry batches committing at once (each in a thread of its own). A batch's notifications
# (two group sends per attempt) go out after its commit, in other threads, so that they
# never hold up the next batch's commit.
BATCHES_IN_FLIGHT = 2
# A second batch overlaps a running one only when that one holds this many attempts (a hard close's
# backlog): one thread's batch then waits on MariaDB while the other's runs Python. Small batches
# overlapped only contend for the GIL (1,000 ends over a second: commit p99 ~50 ms with two, ~40 with one).
OVERLAP_FROM = 200
NOTIFY_THREADS = 2
# The proctors' rows of ended attempts (three queries and ~100 µs of this process a row: 1 s for a hard
# close of 10,000, twice the commits' own cost) wait until no batch has committed for QUIET seconds,
# gathered into one pass, at most MAX_WAIT after the first end. The students' frames go out at each commit.
PROCTOR_ROWS_QUIET_SECONDS = 0.05
PROCTOR_ROWS_MAX_WAIT_SECONDS = 1.0
_config_refused_warned = False


async def enable_keyspace_events(client: aioredis.Redis) -> bool:
    """Merge `E` and `x` into notify-keyspace-events; False where CONFIG is refused."""
    try:
        flags: str = (await client.config_get("notify-keyspace-events")).get("notify-keyspace-events") or ""
        wanted = flags + "".join(f for f in "Ex" if f not in flags and not (f == "x" and "A" in flags))
        if wanted != flags:
            await client.config_set("notify-keyspace-events", wanted)
        return True
    except redis.ResponseError as exc:
        # Once per process: a managed Redis refuses CONFIG on every reconnect alike.
        global _config_refused_warned
        if not _config_refused_warned:
            _config_refused_warned = True
            logger.warning("cannot enable keyspace notifications (%s); relying on the sweeper and reconciler", exc)
        return False


def _summary(path: str, claimed: int, ended: list, aside: list[int], started: float) -> None:
    if not claimed:
        return
    # `ended` holds the attempts flipped; each timed-out one's ended_at is its timed_out event's
    # time (an attempt made overdue has none yet).
    late = sorted(clock.to_ms(a.ended_at) - clock.to_ms(a.deadline_at) for a in ended if a.ended_at)
    logger.info(
        "%s: %d claimed, %d timed out%s in %.0f ms%s",
        path,
        claimed,
        len(ended),
        f", {len(aside)} set aside" if aside else "",
        (time.monotonic() - started) * 1000,
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
        # Cleared while the database fails: claiming then would only fail and churn the leases.
        self.db_up = asyncio.Event()
        self.db_up.set()
        self.reconcile_soon = asyncio.Event()  # wakes the reconciler before its period is up
        self.audit = batches.TimerAudit()  # the reconciler's cheap check of what Redis holds
        # Check every live attempt's timer at the next reconcile: Redis may have lost data (at
        # start, on reconnect, when `exam:alive` vanished). Otherwise the counts decide.
        self.check_all_timers = True
        self.sweep_soon = asyncio.Event()  # wakes the sweeper from a back-off (a failover is over)
        self.master_switched = asyncio.Event()  # the sentinels promoted a new master: subscribe there
        self.probe: asyncio.Task | None = None
        self.subscribed = False  # to expired events, once at least
        self.slots = asyncio.Semaphore(BATCHES_IN_FLIGHT)
        self.committing = 0  # batches between their claim and their commit (or failure)
        self.committing_ids = 0  # the attempts in those batches
        self.batch_ended = asyncio.Event()
        self.last_commit = 0.0  # when (time.monotonic) the last batch committed or failed
        self.ended_for_proctors: list[Attempt] = []  # committed ends whose proctors' rows are not out yet
        self.proctors_pending = asyncio.Event()
        self.batches: set[asyncio.Task] = set()
        # One more thread than batches, for the reconciler; each thread keeps its DB connection.
        self.executor = ThreadPoolExecutor(BATCHES_IN_FLIGHT + 1, thread_name_prefix="expiry-db")
        self.notifier = ThreadPoolExecutor(NOTIFY_THREADS, thread_name_prefix="expiry-notify")
        self.redis_answering_since: float | None = None
        self.set_aside = batches.SetAside()  # attempts whose timeout fails on its own
        self.alive_checked = False  # the marker missing at the first check is no loss: the start reconciles anyway

    # --- shared ----------------------------------------------------------------------

    def db(self, func, executor: ThreadPoolExecutor | None = None):
        """`func` made awaitable, run in one of the listener's own threads (each keeps its connection)."""
        return in_pool(func, executor or self.executor)

    async def expire(self, ids: list[int], path: str) -> tuple[list, list[int]]:
        """Time out the due of `ids`: (the attempts timed out, the ids set aside as failing on their own)."""
        started = time.monotonic()
        ended, aside = await self.db(batches.expire_batch)(
            attempt_ids=ids, path=path, set_aside=self.set_aside, notify=False, claimed=True
        )
        _summary(path, len(ids), ended, aside, started)
        return ended, aside

    def database_failed(self) -> None:
        """Stop claiming and probe the database until it answers."""
        self.db_up.clear()
        if self.probe is None or self.probe.done():
            self.probe = asyncio.create_task(self._probe_database(), name="db-probe")

    async def _probe_database(self) -> None:
        """Claim again as soon as the database answers; if it was down, reconcile at once too."""
        was_down = False
        while not self.stopping.is_set():
            try:
                await self.db(batches.ping_database)()
                break
            except asyncio.CancelledError:
                raise
            except Exception:
                was_down = True
                await self._sleep(DB_PROBE_SECONDS)
        if was_down:
            # Not for a one-off error (a deadlock, a persistent query error): a reconcile would not help.
            logger.info("the database answers again; reconciling now")
            self.reconcile_soon.set()  # Redis lost nothing: the counts decide what to check
        self.db_up.set()

    def start_batch(self, ids: list[int], path: str) -> None:
        """Expire `ids` in the background; the slot the caller acquired is released at the commit."""
        self.committing += 1
        self.committing_ids += len(ids)
        task = asyncio.create_task(self._batch(ids, path))
        self.batches.add(task)
        task.add_done_callback(self.batches.discard)

    async def _batch(self, ids: list[int], path: str) -> None:
        ended: list[Attempt] = []
        try:
            ended, aside = await self.expire(ids, path)
            leftover = set(ids) - {a.pk for a in ended} - set(aside)
            if leftover:
                # Claimed but not due in the database (extended meanwhile): back in the index.
                await self.db(batches.rearm)(attempt_ids=leftover)
            # Those set aside leave Redis too: the reconciler tries them again, the sweeper must not spin on them.
            await timers.acomplete(ids)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Those already committed come back as no-ops: the UPDATE is a compare-and-set.
            await self._give_back(ids, path, exc)
        finally:
            self.slots.release()
            self.committing -= 1
            self.committing_ids -= len(ids)
            self.last_commit = time.monotonic()
            self.batch_ended.set()
        if ended:
            # Committed: tell the students now, the proctors soon (as services would have, on commit).
            self.ended_for_proctors += ended
            self.proctors_pending.set()
            try:
                await self.db(notifications.ends_to_students, self.notifier)(ended, bound=delivery.BATCH_PUBLISH)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("telling %d students of their timeouts failed", len(ended))

    async def tell_proctors(self) -> None:
        """Send the proctors' rows of the attempts ended since the last pass, in one pass once the
        batches pause, or PROCTOR_ROWS_MAX_WAIT_SECONDS after the first end (a hard close's commits
        first: a row built meanwhile would take its time from them)."""
        await self.proctors_pending.wait()
        give_up = time.monotonic() + PROCTOR_ROWS_MAX_WAIT_SECONDS
        while not self.stopping.is_set():
            now = time.monotonic()
            quiet_for = now - self.last_commit if not self.committing else 0.0
            if quiet_for >= PROCTOR_ROWS_QUIET_SECONDS or now >= give_up:
                break
            await self._sleep(min(PROCTOR_ROWS_QUIET_SECONDS - quiet_for, give_up - now))
        await self.flush_proctor_rows()

    async def flush_proctor_rows(self) -> None:
        self.proctors_pending.clear()
        ended, self.ended_for_proctors = self.ended_for_proctors, []
        if not ended:
            return
        try:
            await self.db(notifications.ends_to_proctors, self.notifier)(ended, bound=delivery.BATCH_PUBLISH)
        except asyncio.CancelledError:
            # Stopping: the flush after the last batches sends them (twice at worst, which proctors tolerate).
            self.ended_for_proctors = ended + self.ended_for_proctors
            raise
        except Exception:
            logger.exception("telling the proctors of %d timeouts failed", len(ended))

    async def _give_back(self, ids: list[int], path: str, exc: Exception) -> None:
        """A batch failed: its claims are claimable again at once (by this listener once the database answers)."""
        if isinstance(exc, DatabaseError):
            self.database_failed()  # before the release: this listener must not claim them straight back
        if isinstance(exc, (redis.RedisError, OSError, DatabaseError)):
            logger.warning("%s batch of %d failed (%s); giving its claims back", path, len(ids), exc)
        else:
            logger.exception("%s batch of %d failed; giving its claims back", path, len(ids))
        try:
            await timers.arelease(ids)
        except redis.RedisError as release_exc:
            logger.warning(
                "giving back %d claims failed (%s); they are claimable again in %d ms",
                len(ids),
                release_exc,
                timers.lease_ms(),
            )

    def reconcile_now(self) -> None:
        """Reconcile at once, checking every live attempt's timer (Redis may have lost some)."""
        self.check_all_timers = True
        self.reconcile_soon.set()

    async def reconcile(self) -> None:
        started = time.monotonic()
        full, self.check_all_timers = self.check_all_timers, False
        try:
            flipped, restored = await self.db(batches.reconcile)(
                batch_size=self.batch_size, set_aside=self.set_aside, audit=self.audit, full=full
            )
        except BaseException as exc:
            self.check_all_timers = self.check_all_timers or full  # not done: the next run does it
            if isinstance(exc, DatabaseError):
                self.database_failed()
            raise
        finally:
            first = not self.reconciled.is_set()
            self.reconciled.set()
        if flipped or restored or first:
            logger.info(
                "reconciler%s: %d overdue timed out, %d timers restored in %.0f ms",
                " (start)" if first else "",
                flipped,
                restored,
                (time.monotonic() - started) * 1000,
            )

    async def _sleep(self, delay: float, wake: asyncio.Event | None = None) -> None:
        """Wait `delay` seconds, or less if stopping or `wake` is set."""
        events = [self.stopping] if wake is None else [self.stopping, wake]
        waiters = [asyncio.ensure_future(event.wait()) for event in events]
        try:
            await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _forever(self, name: str, step, pause: float, wake: asyncio.Event | None = None) -> None:
        """Run `step` until stopped, again after `pause` or as soon as `wake` is set.

        Failures are logged, then it backs off and carries on."""
        backoff = MIN_BACKOFF_SECONDS
        while not self.stopping.is_set():
            if wake is not None:
                wake.clear()
            try:
                await step()
                backoff = MIN_BACKOFF_SECONDS
                delay = pause
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError, DatabaseError) as exc:
                logger.warning("%s: %s; retrying in %.1fs", name, exc, backoff)
                delay, backoff = backoff, min(backoff * 2, MAX_BACKOFF_SECONDS)
            except Exception:
                logger.exception("%s failed; retrying in %.1fs", name, backoff)
                delay, backoff = backoff, min(backoff * 2, MAX_BACKOFF_SECONDS)
            await self._sleep(delay, wake)

    async def sweep_presence(self) -> None:
        """Disconnect the students of daphne processes that stopped beating (killed, host lost).

        Only once Redis has answered this listener for a whole timeout: after an outage every
        process looks silent until it beats again, and is not dead.
        """
        try:
            data_lost = await timers.amark_redis_alive()
        except BaseException:
            self.redis_answering_since = None
            raise
        first_check, self.alive_checked = not self.alive_checked, True
        if data_lost and not first_check and self.reconciled.is_set():
            # Redis restarted empty or failed over to an empty replica: timers and the deadline
            # index are gone; rebuild them now rather than at the next period.
            logger.warning("Redis lost its data: reconciling now")
            self.reconcile_now()
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

    async def _claim_and_start(self, claim, path: str) -> int:
        """Take a batch slot, then claim ids with `claim()` and expire them in the background; returns how many.

        Claiming only once a slot is free leaves what this listener can't work on to others.
        """
        await self.slots.acquire()
        try:
            while self.committing and self.committing_ids < OVERLAP_FROM:
                self.batch_ended.clear()
                await self.batch_ended.wait()
            ids = await claim()
        except BaseException:
            self.slots.release()
            raise
        if ids:
            self.start_batch(ids, path)
        else:
            self.slots.release()
        return len(ids)

    async def _ready_to_claim(self) -> None:
        await self.reconciled.wait()
        await self.db_up.wait()

    async def sweep_once(self) -> None:
        """Wake at the next deadline in the index (at most a sweep interval away), then claim what is due.

        Waking on the deadline rather than on a 200 ms grid takes ~100 ms off a hard close's average lateness.
        """
        await self._ready_to_claim()
        due_in = await timers.aseconds_to_next_due()
        if due_in is None or due_in > 0:
            await self._sleep(self.sweep_interval if due_in is None else min(due_in, self.sweep_interval))
            if self.stopping.is_set():
                return
        if not await self._claim_and_start(lambda: timers.aclaim_due(limit=self.batch_size), ExpiryPath.SWEEPER):
            # Due but taken by another listener meanwhile: don't spin on it.
            await self._sleep(SWEEP_MIN_PAUSE_SECONDS)

    async def listen_keyspace(self) -> None:
        """Subscribe to expired events; reconcile on every connect, since a gap loses events.

        Keyspace events are per server: after a failover this subscribes anew on the new master
        (turning its events on), as soon as the sentinels announce it (`follow_failovers`)."""
        db = redis_db()
        client = new_async_redis(socket_timeout=None, health_check_interval=10)
        try:
            await enable_keyspace_events(client)
            async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                await pubsub.subscribe(f"__keyevent@{db}__:expired")
                logger.info("listening for expired timer keys on db %s", db)
                if self.subscribed:
                    # Events published while unsubscribed are lost, and Redis may have lost the
                    # timers: the reconciler covers both. (At start its own first run does.)
                    self.reconcile_now()
                self.subscribed = True
                reading = asyncio.ensure_future(self._read_expired(pubsub))
                switched = asyncio.ensure_future(self.master_switched.wait())
                try:
                    done, _ = await asyncio.wait([reading, switched], return_when=asyncio.FIRST_COMPLETED)
                finally:
                    reading.cancel()
                    switched.cancel()
                    await asyncio.gather(reading, switched, return_exceptions=True)
                if reading in done:
                    reading.result()  # its error: the connection went
        finally:
            await client.aclose()

    async def _read_expired(self, pubsub) -> None:
        async for message in pubsub.listen():
            attempt_id = timers.attempt_id_from_key(_text(message.get("data")))
            if attempt_id is not None:
                self.events.put_nowait(attempt_id)

    async def follow_failovers(self) -> None:
        """With Redis Sentinel: on a promotion, drop connections to the old master, subscribe on
        the new one and reconcile now (what the old master held but had not replicated is lost)."""

        async def switched(address: str) -> None:
            logger.warning("Redis failed over to %s: re-subscribing and reconciling now", address)
            await drop_async_connections()
            self.master_switched.set()
            self.reconcile_now()  # a replica may lack the old master's last writes
            self.sweep_soon.set()

        await watch_master_switches(switched)
        await self.stopping.wait()  # no sentinels: nothing to follow

    async def drain_events(self) -> None:
        """Expire keyspace events in batches: whatever arrived by the time a batch can start."""
        ids = [await self.events.get()]
        await self._ready_to_claim()

        async def claim() -> list[int]:
            while len(ids) < self.batch_size and not self.events.empty():
                ids.append(self.events.get_nowait())
            # Every listener hears every event: only ids still in the index are this one's.
            return await timers.aclaim(ids)

        await self._claim_and_start(claim, ExpiryPath.KEYSPACE)

    async def run(self) -> None:
        tasks = [
            asyncio.create_task(
                self._forever("keyspace listener", self.listen_keyspace, 0, self.master_switched), name="keyspace"
            ),
            asyncio.create_task(self._forever("keyspace batches", self.drain_events, 0), name="drain"),
            asyncio.create_task(self._forever("sweeper", self.sweep_once, 0, self.sweep_soon), name="sweeper"),
            asyncio.create_task(self._forever("failover watcher", self.follow_failovers, 0), name="failovers"),
            asyncio.create_task(
                self._forever("reconciler", self.reconcile, self.reconcile_interval, self.reconcile_soon),
                name="reconciler",
            ),
            asyncio.create_task(
                self._forever("presence sweeper", self.sweep_presence, presence.HEARTBEAT_SECONDS), name="presence"
            ),
            asyncio.create_task(self._forever("proctor rows", self.tell_proctors, 0), name="proctor-rows"),
        ]
        await self.stopping.wait()
        if self.probe is not None:
            tasks.append(self.probe)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Batches under way finish: their ids are already claimed.
        await asyncio.gather(*self.batches, return_exceptions=True)
        await self.flush_proctor_rows()  # what the cancelled pass would have sent
        # In a thread: a call still running there may need this loop to send its notifications.
        await asyncio.to_thread(self.executor.shutdown, wait=True)
        await asyncio.to_thread(self.notifier.shutdown, wait=True)
        await close_async_redis()
        logger.info("listener stopped")

    def stop(self) -> None:
        self.stopping.set()


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")
