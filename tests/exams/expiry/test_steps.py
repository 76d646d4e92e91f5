"""The listener's steps (sweep, drain the keyspace queue, reconcile) called in this process,
against the real Redis and the real test database; test_listener*.py run the whole process.

Includes a poison row (conftest.py): an attempt whose UPDATE always fails must not hold up the
timeouts of the others, on any path.
"""

import asyncio
import itertools
import logging
import time
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from exams import clock, delivery, timers
from exams.expiry import listener as listener_module
from exams.expiry.batches import TimerAudit
from exams.expiry.listener import ExpiryListener
from exams.models import Attempt, AttemptEvent, AttemptStatus, EventKind, ExpiryPath
from exams.redis_clients import close_async_redis
from tests.realtime.conftest import fresh_layer  # noqa: F401 (fixture)
from tests.support.redis_commands import MonitoredRedis, name

pytestmark = pytest.mark.django_db(transaction=True)

BATCH_SIZE = 2
_numbers = itertools.count(1)


@pytest.fixture
async def listener(settings) -> ExpiryListener:
    """A listener whose steps the test calls; its loops never run."""
    settings.EXAM = {**settings.EXAM, "SWEEP_BATCH_SIZE": BATCH_SIZE, "SWEEP_INTERVAL_MS": 50}
    listener = ExpiryListener()
    yield listener
    listener.stop()
    await finish_batches(listener)
    if listener.probe is not None:
        await listener.probe
    listener.executor.shutdown()
    listener.notifier.shutdown()
    await close_async_redis()


async def finish_batches(listener: ExpiryListener) -> None:
    """Wait for the expiry batches the steps started in the background."""
    await asyncio.gather(*listener.batches)


@database_sync_to_async
def make_attempts(user, exam, *seconds_from_now: float, armed: bool = True) -> list[int]:
    """Ongoing attempts with these deadlines (in this order), armed in Redis like started ones."""
    now = clock.now()
    ids = [
        Attempt.objects.create(
            user=user,
            exam=exam,
            number=next(_numbers),
            started_at=now - timedelta(minutes=5),
            deadline_at=now + timedelta(seconds=seconds),
        ).pk
        for seconds in seconds_from_now
    ]
    if armed:
        deadlines = dict(Attempt.objects.filter(pk__in=ids).values_list("pk", "deadline_at"))
        timers.restore_timers((pk, clock.to_ms(deadlines[pk])) for pk in ids)
    return ids


@database_sync_to_async
def outcome(ids: list[int]) -> dict[int, tuple[str, str | None]]:
    """attempt id -> (status, the path of its one timed_out event or None)."""
    paths = dict(
        AttemptEvent.objects.filter(attempt_id__in=ids, kind=EventKind.TIMED_OUT).values_list("attempt_id", "path")
    )
    assert AttemptEvent.objects.filter(attempt_id__in=ids, kind=EventKind.TIMED_OUT).count() == len(paths)
    return {
        pk: (status, paths.get(pk)) for pk, status in Attempt.objects.filter(pk__in=ids).values_list("pk", "status")
    }


def in_redis(client) -> tuple[set[int], set[int]]:
    """(ids in the deadline index, ids under a lease)."""
    return (
        {int(m) for m in client.zrange(timers.DEADLINES_KEY, 0, -1)},
        {int(m) for m in client.zrange(timers.CLAIMS_KEY, 0, -1)},
    )


# --- The steps -----------------------------------------------------------------------------


async def test_reconcile_times_out_the_overdue_and_rearms_the_live(listener, student, exam, clean_redis):
    overdue = await make_attempts(student, exam, -3, -2, -1, armed=False)
    [live] = await make_attempts(student, exam, 60, armed=False)  # Redis lost its timer

    await listener.reconcile()

    assert await outcome(overdue) == dict.fromkeys(overdue, (AttemptStatus.TIMEOUT, ExpiryPath.RECONCILER))
    assert in_redis(clean_redis) == ({live}, set())
    assert clean_redis.exists(timers.timer_key(live))
    assert listener.reconciled.is_set()


async def test_reconcile_clears_what_it_timed_out_from_redis(listener, student, exam, clean_redis):
    # Unlike a claim's, the reconciler's timeouts are still in the index (no sweep came yet): it clears them.
    overdue = await make_attempts(student, exam, -2, -1)
    [live] = await make_attempts(student, exam, 60)

    await listener.reconcile()

    assert await outcome(overdue) == dict.fromkeys(overdue, (AttemptStatus.TIMEOUT, ExpiryPath.RECONCILER))
    assert in_redis(clean_redis) == ({live}, set())


async def test_a_sweep_claims_the_due_and_times_them_out(listener, student, exam, clean_redis):
    listener.reconciled.set()
    due = await make_attempts(student, exam, -2, -1)
    [live] = await make_attempts(student, exam, 60)

    await listener.sweep_once()
    await finish_batches(listener)

    assert await outcome(due) == dict.fromkeys(due, (AttemptStatus.TIMEOUT, ExpiryPath.SWEEPER))
    assert await outcome([live]) == {live: (AttemptStatus.ONGOING, None)}
    assert in_redis(clean_redis) == ({live}, set())


async def test_a_sweep_puts_back_an_attempt_extended_since_it_was_armed(listener, student, exam, clean_redis):
    listener.reconciled.set()
    [extended] = await make_attempts(student, exam, -1)
    await database_sync_to_async(Attempt.objects.filter(pk=extended).update)(
        deadline_at=clock.now() + timedelta(seconds=60)
    )

    await listener.sweep_once()
    await finish_batches(listener)

    assert await outcome([extended]) == {extended: (AttemptStatus.ONGOING, None)}
    assert in_redis(clean_redis) == ({extended}, set())  # re-armed with the database's deadline
    assert clean_redis.zscore(timers.DEADLINES_KEY, str(extended)) > clock.now_ms() + 50_000


async def test_draining_keyspace_events_times_out_those_still_in_the_index(listener, student, exam, clean_redis):
    listener.reconciled.set()
    ids = await make_attempts(student, exam, -2, -1)
    elsewhere = (await make_attempts(student, exam, -1, armed=False))[0]  # another listener took it
    for attempt_id in [*ids, elsewhere]:
        listener.events.put_nowait(attempt_id)

    await listener.drain_events()  # one batch: the ids that arrived, up to the batch size
    await finish_batches(listener)

    assert await outcome(ids) == dict.fromkeys(ids, (AttemptStatus.TIMEOUT, ExpiryPath.KEYSPACE))
    assert listener.events.qsize() == 1
    await listener.drain_events()
    await finish_batches(listener)
    assert await outcome([elsewhere]) == {elsewhere: (AttemptStatus.ONGOING, None)}
    assert in_redis(clean_redis) == (set(), set())


# --- A poison row ----------------------------------------------------------------------------


async def test_a_poison_attempt_does_not_block_reconciling_the_others(
    listener, student, exam, poison, clean_redis, caplog
):
    # The oldest deadline: it shares the first batch, which goes first.
    bad, *others = await make_attempts(student, exam, -5, -4, -3, -2, -1, armed=False)
    [live] = await make_attempts(student, exam, 60, armed=False)
    await database_sync_to_async(poison)(bad)

    with caplog.at_level(logging.INFO):
        await listener.reconcile()
        assert await outcome(others) == dict.fromkeys(others, (AttemptStatus.TIMEOUT, ExpiryPath.RECONCILER))
        assert await outcome([bad]) == {bad: (AttemptStatus.ONGOING, None)}
        assert clean_redis.exists(timers.timer_key(live))  # timers are restored for the others too

        await listener.reconcile()  # the next period: set aside, not tried nor logged again
    assert await outcome([bad]) == {bad: (AttemptStatus.ONGOING, None)}
    assert [r.levelno for r in caplog.records if f"attempt {bad}" in r.getMessage()] == [logging.ERROR]


async def test_a_poison_attempt_does_not_block_the_sweeper(listener, student, exam, poison, clean_redis):
    listener.reconciled.set()
    bad, *others = await make_attempts(student, exam, -5, -4, -3)
    await database_sync_to_async(poison)(bad)

    # Before: every sweep claimed it first, with the others, failed and gave all back, forever.
    for _ in range(3):
        await listener.sweep_once()
        await finish_batches(listener)

    assert await outcome(others) == dict.fromkeys(others, (AttemptStatus.TIMEOUT, ExpiryPath.SWEEPER))
    assert await outcome([bad]) == {bad: (AttemptStatus.ONGOING, None)}
    # It left the index: the reconciler tries it again later, the sweeper doesn't spin on it.
    assert in_redis(clean_redis) == (set(), set())


async def test_a_poison_attempt_does_not_block_keyspace_batches(listener, student, exam, poison, clean_redis):
    listener.reconciled.set()
    bad, other = await make_attempts(student, exam, -2, -1)
    await database_sync_to_async(poison)(bad)
    listener.events.put_nowait(bad)
    listener.events.put_nowait(other)

    await listener.drain_events()
    await finish_batches(listener)

    assert await outcome([bad, other]) == {
        bad: (AttemptStatus.ONGOING, None),
        other: (AttemptStatus.TIMEOUT, ExpiryPath.KEYSPACE),
    }
    assert in_redis(clean_redis) == (set(), set())


# --- The reconciler's cost: it checks cheaply and writes only what Redis lost -------------------

AUDIT_CHUNK = 10


async def thirty_live_attempts(listener, student, exam) -> list[int]:
    """30 live attempts armed in Redis, the start's full check done; the audit checks 10 a run."""
    ids = await make_attempts(student, exam, *(60 + n for n in range(30)))
    listener.audit = TimerAudit(chunk=AUDIT_CHUNK)
    await listener.reconcile()
    return ids


async def test_a_periodic_reconcile_with_nothing_lost_writes_nothing(listener, student, exam, private_redis):
    await thirty_live_attempts(listener, student, exam)

    with MonitoredRedis(private_redis.port) as log:
        await listener.reconcile()

    # Two counts and one chunk's check, not a rewrite of all 30 timers (60 commands before).
    assert log.names() == {"ZCOUNT": 1, "EVALSHA": 1}, log.calls
    assert not [c for c in log.scripted if name(c) in ("ZADD", "PEXPIRE")]
    assert len(log.scripted) <= 2 * AUDIT_CHUNK


async def test_a_lost_index_member_is_rebuilt_by_the_next_periodic_reconcile(listener, student, exam, private_redis):
    ids = await thirty_live_attempts(listener, student, exam)
    client = private_redis.client()
    deadline = client.zscore(timers.DEADLINES_KEY, str(ids[-1]))
    client.zrem(timers.DEADLINES_KEY, str(ids[-1]))  # outside the next chunk: the counts find it

    with MonitoredRedis(private_redis.port) as log:
        await listener.reconcile()

    assert client.zscore(timers.DEADLINES_KEY, str(ids[-1])) == deadline
    assert [c for c in log.scripted if name(c) == "ZADD"] == [f"ZADD {timers.DEADLINES_KEY} {int(deadline)} {ids[-1]}"]
    assert listener.audit.last_counts == (30, 29)


async def test_a_lost_timer_key_is_rebuilt_within_a_turn_of_the_chunks(listener, student, exam, private_redis):
    ids = await thirty_live_attempts(listener, student, exam)
    client = private_redis.client()
    client.delete(timers.timer_key(ids[-1]))  # its index member stays, so the sweeper still times it out

    for _ in range(3):
        await listener.reconcile()

    assert 55_000 < client.pttl(timers.timer_key(ids[-1])) <= 90_000


async def test_a_flushall_is_rebuilt_by_a_periodic_reconcile(listener, student, exam, private_redis):
    ids = await thirty_live_attempts(listener, student, exam)
    client = private_redis.client()
    client.flushall()

    await listener.reconcile()

    assert in_redis(client) == (set(ids), set())
    assert all(client.exists(timers.timer_key(pk)) for pk in ids)


# --- Telling students and proctors -----------------------------------------------------------


@pytest.fixture
async def hub_channel() -> str:
    """A process channel in the fan-out group, as a daphne process's hub has."""
    channel = f"{delivery.PROCESS_CHANNEL_PREFIX}expiry-steps-test"
    await get_channel_layer().group_add(delivery.FANOUT_GROUP, channel)
    return channel


async def fanout(channel: str) -> list[tuple[str, int, str]]:
    """The next fan-out message's events: (target, its id, frame type)."""
    message = await asyncio.wait_for(get_channel_layer().receive(channel), 5)
    return [(target, target_id, frame["type"]) for target, target_id, frame in message["events"]]


@pytest.mark.usefixtures("fresh_layer")  # before hub_channel: a channel layer of this test's loop
async def test_students_hear_each_commit_and_proctors_one_pass_once_no_batch_commits(
    listener, student, exam, clean_redis, hub_channel, monkeypatch
):
    monkeypatch.setattr(listener_module, "PROCTOR_ROWS_MAX_WAIT_SECONDS", 60)
    listener.reconciled.set()
    first = await make_attempts(student, exam, -3, -2)  # BATCH_SIZE is 2: two batches
    second = await make_attempts(student, exam, -1)
    proctors = asyncio.create_task(listener.tell_proctors())
    # Another (large) batch is committing all along.
    listener.committing, listener.committing_ids = 1, listener_module.OVERLAP_FROM
    try:
        for ids in (first, second):
            await listener.sweep_once()
            await finish_batches(listener)
            assert await fanout(hub_channel) == [(delivery.TO_ATTEMPT, i, "timeout") for i in ids]
    finally:
        listener.committing, listener.committing_ids = 0, 0
        listener.last_commit = time.monotonic()
    # The proctors' rows of both batches, in one pass after the other batch "committed".
    assert await fanout(hub_channel) == [(delivery.TO_EXAM, exam.pk, "attempt_timeout")] * 3
    await proctors


@pytest.mark.usefixtures("fresh_layer")
async def test_proctors_rows_wait_for_the_batches_no_longer_than_the_bound(
    listener, student, exam, clean_redis, hub_channel, monkeypatch
):
    monkeypatch.setattr(listener_module, "PROCTOR_ROWS_MAX_WAIT_SECONDS", 0.2)
    listener.reconciled.set()
    ids = await make_attempts(student, exam, -1)
    # A large batch that never ends (a hard close going on).
    listener.committing, listener.committing_ids = 1, listener_module.OVERLAP_FROM
    await listener.sweep_once()
    await finish_batches(listener)
    assert await fanout(hub_channel) == [(delivery.TO_ATTEMPT, ids[0], "timeout")]
    await listener.tell_proctors()
    assert await fanout(hub_channel) == [(delivery.TO_EXAM, exam.pk, "attempt_timeout")]
    listener.committing, listener.committing_ids = 0, 0


async def test_a_second_batch_overlaps_only_a_large_one(listener):
    order: list[str] = []

    async def claim() -> list[int]:
        order.append("claimed")
        return []

    listener.committing, listener.committing_ids = 1, 10  # a small batch is committing
    waiting = asyncio.create_task(listener._claim_and_start(claim, ExpiryPath.SWEEPER))
    await asyncio.sleep(0)  # the claim's task runs up to where it waits
    order.append("small batch ended")
    listener.committing, listener.committing_ids = 0, 0
    listener.batch_ended.set()
    await waiting
    assert order == ["small batch ended", "claimed"]

    listener.committing, listener.committing_ids = 1, listener_module.OVERLAP_FROM  # a hard close's batch
    await listener._claim_and_start(claim, ExpiryPath.SWEEPER)  # claims at once, alongside
    assert order[-1] == "claimed" and len(order) == 3
    listener.committing, listener.committing_ids = 0, 0


@pytest.mark.usefixtures("fresh_layer")
async def test_a_proctors_pass_cancelled_at_stop_leaves_its_rows_for_the_last_flush(
    listener, student, exam, clean_redis, hub_channel
):
    listener.reconciled.set()
    ids = await make_attempts(student, exam, -1)
    await listener.sweep_once()
    await finish_batches(listener)
    assert await fanout(hub_channel) == [(delivery.TO_ATTEMPT, ids[0], "timeout")]
    passing = asyncio.create_task(listener.flush_proctor_rows())
    await asyncio.sleep(0)  # into its database call
    passing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await passing
    assert [a.pk for a in listener.ended_for_proctors] == ids
    await listener.flush_proctor_rows()  # as run() does once the batches are done
    assert await fanout(hub_channel) == [(delivery.TO_EXAM, exam.pk, "attempt_timeout")]
