"""§4 The expiry engine never times out a paused attempt: a paused attempt past its old deadline stays
ongoing through a sweep, a keyspace expiry and a reconcile (the listener's steps in this process, real
Redis and database), even when Redis still holds a timer for it; and it times out as usual once resumed."""

import asyncio

import pytest
from channels.db import database_sync_to_async

from exams import clock, services, time_control, timers
from exams.expiry.listener import ExpiryListener
from exams.models import Attempt, AttemptStatus, ExpiryPath
from exams.redis_clients import close_async_redis

from ..conftest import set_deadline

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def listener(settings):
    settings.EXAM = {**settings.EXAM, "SWEEP_INTERVAL_MS": 50}
    listener = ExpiryListener()
    listener.reconciled.set()
    yield listener
    listener.stop()
    await asyncio.gather(*listener.batches)
    listener.executor.shutdown()
    listener.notifier.shutdown()
    await close_async_redis()


@database_sync_to_async
def _paused_past_its_deadline(student, proctor, exam) -> int:
    """Paused, then its (stale) deadline passed; Redis still holds a due timer (a delete that failed)."""
    attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt
    time_control.pause(by=proctor, exam_id=exam.pk, category="technical", attempt_ids=[attempt.pk])
    attempt = set_deadline(attempt, seconds_from_now=-5)
    timers.set_timers([(attempt.pk, clock.to_ms(attempt.deadline_at))])
    return attempt.pk


async def _run(listener, path: str, attempt_id: int) -> None:
    if path == ExpiryPath.SWEEPER:
        await listener.sweep_once()
    elif path == ExpiryPath.KEYSPACE:
        listener.events.put_nowait(attempt_id)
        await listener.drain_events()
    else:
        await listener.reconcile()
    await asyncio.gather(*listener.batches)


@pytest.mark.parametrize("path", [ExpiryPath.SWEEPER, ExpiryPath.KEYSPACE, ExpiryPath.RECONCILER])
async def test_no_listener_path_times_out_a_paused_attempt(listener, student, proctor, exam, clean_redis, path):
    attempt_id = await _paused_past_its_deadline(student, proctor, exam)
    if path == ExpiryPath.RECONCILER:
        clean_redis.flushdb()  # the reconciler reads the database: nothing in Redis to go by

    await _run(listener, path, attempt_id)

    attempt = await database_sync_to_async(Attempt.objects.get)(pk=attempt_id)
    assert attempt.status == AttemptStatus.ONGOING and attempt.is_paused
    # Not re-armed either, and no lease left behind.
    assert clean_redis.zscore(timers.DEADLINES_KEY, str(attempt_id)) is None
    assert not clean_redis.exists(timers.timer_key(attempt_id))
    assert clean_redis.zcard(timers.CLAIMS_KEY) == 0


async def test_once_resumed_it_times_out_at_its_moved_deadline(listener, student, proctor, exam, clean_redis):
    attempt_id = await _paused_past_its_deadline(student, proctor, exam)

    @database_sync_to_async
    def resume_then_use_up_the_time() -> None:
        time_control.resume(by=proctor, exam_id=exam.pk, attempt_ids=[attempt_id])
        attempt = set_deadline(Attempt.objects.get(pk=attempt_id), seconds_from_now=-1)
        timers.set_timers([(attempt_id, clock.to_ms(attempt.deadline_at))])

    await resume_then_use_up_the_time()
    await _run(listener, ExpiryPath.SWEEPER, attempt_id)
    assert (await database_sync_to_async(Attempt.objects.get)(pk=attempt_id)).status == AttemptStatus.TIMEOUT
