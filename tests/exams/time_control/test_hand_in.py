"""§5 When time runs out: the exam's `hand_in` policy (an `overdue` window), on every expiry path,
against the real database and the real Redis."""

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async

from exams import clock, services, timers
from exams.contract import builders, frames
from exams.errors import TimeUp
from exams.expiry import batches
from exams.expiry.listener import ExpiryListener
from exams.models import AtDeadline, Attempt, AttemptEvent, AttemptStatus, EventKind, ExpiryPath, Question
from exams.redis_clients import close_async_redis
from tests.support.contract_check import check

from ..conftest import set_deadline

HAND_IN = 30


@pytest.fixture
def hand_in_exam(make_exam):
    return make_exam(at_deadline=AtDeadline.HAND_IN, hand_in_seconds=HAND_IN)


def _start(user, exam) -> Attempt:
    return services.start_attempt(user=user, exam_id=exam.pk).attempt


def _kinds(attempt_id: int) -> list[str]:
    return list(AttemptEvent.objects.filter(attempt_id=attempt_id).values_list("kind", flat=True))


@pytest.mark.django_db
def test_at_the_deadline_a_hand_in_attempt_turns_overdue_with_its_window(student, hand_in_exam, clean_redis):
    attempt = set_deadline(_start(student, hand_in_exam), seconds_from_now=-1)

    [moved] = services.expire_attempts(attempt_ids=[attempt.pk], path=ExpiryPath.ON_ACCESS, notify=False)

    attempt.refresh_from_db()
    assert moved.pk == attempt.pk
    assert attempt.status == AttemptStatus.OVERDUE and attempt.ended_at is None and attempt.score is None
    assert attempt.hand_in_until == attempt.deadline_at + timedelta(seconds=HAND_IN)
    assert _kinds(attempt.pk)[-1] == EventKind.OVERDUE
    check(frames.OverdueFrame, builders.ended_frame(attempt))


@pytest.mark.django_db
def test_answers_are_locked_while_overdue_and_submit_is_taken(student, hand_in_exam, on_commit):
    attempt = _start(student, hand_in_exam)
    q1, q2, _ = Question.objects.filter(exam=hand_in_exam)
    services.save_answer(user=student, attempt_id=attempt.pk, question_id=q1.pk, selected_option="A")
    set_deadline(attempt, seconds_from_now=-1)
    services.expire_attempts(attempt_ids=[attempt.pk], path=ExpiryPath.ON_ACCESS, notify=False)

    with pytest.raises(TimeUp) as refused:
        services.save_answer(user=student, attempt_id=attempt.pk, question_id=q2.pk, selected_option="A")
    assert refused.value.code == "time_up" and "submit" in refused.value.message

    with on_commit():
        sheet = services.submit_attempt(user=student, attempt_id=attempt.pk)
    assert sheet.attempt.status == AttemptStatus.COMPLETED and sheet.attempt.score == 1
    assert _kinds(attempt.pk)[-1] == EventKind.SUBMITTED


@pytest.mark.django_db
def test_after_the_window_it_is_timed_out_scored(student, hand_in_exam):
    attempt = _start(student, hand_in_exam)
    q1 = Question.objects.filter(exam=hand_in_exam).first()
    services.save_answer(user=student, attempt_id=attempt.pk, question_id=q1.pk, selected_option="A")
    set_deadline(attempt, seconds_from_now=-1)
    services.expire_attempts(attempt_ids=[attempt.pk], path=ExpiryPath.ON_ACCESS, notify=False)
    Attempt.objects.filter(pk=attempt.pk).update(hand_in_until=clock.now() - timedelta(seconds=1))

    [ended] = services.expire_attempts(attempt_ids=[attempt.pk], path=ExpiryPath.SWEEPER, notify=False)

    assert ended.status == AttemptStatus.TIMEOUT and ended.score == 1
    # A submit after the window gives the timeout result.
    assert services.submit_attempt(user=student, attempt_id=attempt.pk).attempt.status == AttemptStatus.TIMEOUT


@pytest.mark.django_db
def test_a_long_outage_goes_through_the_window_in_one_transaction(student, hand_in_exam):
    attempt = set_deadline(_start(student, hand_in_exam), seconds_from_now=-(HAND_IN + 5))

    services.expire_attempts(attempt_ids=[attempt.pk], path=ExpiryPath.RECONCILER, notify=False)

    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.TIMEOUT
    assert _kinds(attempt.pk)[-2:] == [EventKind.OVERDUE, EventKind.TIMED_OUT]


@pytest.mark.django_db
def test_auto_submit_exams_keep_todays_behaviour(student, exam):
    attempt = set_deadline(_start(student, exam), seconds_from_now=-1)
    [ended] = services.expire_attempts(attempt_ids=[attempt.pk], path=ExpiryPath.SWEEPER, notify=False)
    assert ended.status == AttemptStatus.TIMEOUT


@pytest.mark.django_db
def test_starting_again_while_overdue_resumes_the_overdue_attempt(student, make_exam):
    exam = make_exam(at_deadline=AtDeadline.HAND_IN, hand_in_seconds=HAND_IN, max_attempts=3)
    attempt = set_deadline(_start(student, exam), seconds_from_now=-1)
    services.expire_attempts(attempt_ids=[attempt.pk], path=ExpiryPath.ON_ACCESS, notify=False)

    result = services.start_attempt(user=student, exam_id=exam.pk)

    assert result.created is False and result.attempt.pk == attempt.pk
    body = builders.start(result.attempt, created=False)
    assert body["status"] == "overdue" and body["remaining_seconds"] == 0 and "hand_in_until" in body


@pytest.mark.django_db
def test_the_timer_is_rearmed_to_the_end_of_the_window(student, hand_in_exam, clean_redis, on_commit):
    attempt = set_deadline(_start(student, hand_in_exam), seconds_from_now=-1)
    with on_commit():
        services.expire_attempts(attempt_ids=[attempt.pk], path=ExpiryPath.ON_ACCESS, notify=False)
    attempt.refresh_from_db()
    assert clean_redis.zscore(timers.DEADLINES_KEY, str(attempt.pk)) == clock.to_ms(attempt.hand_in_until)
    assert clean_redis.pttl(timers.timer_key(attempt.pk)) > (HAND_IN - 3) * 1000
    # Redis lost it: the reconciler re-arms it to the same instant.
    clean_redis.flushdb()
    batches.reconcile()
    assert clean_redis.zscore(timers.DEADLINES_KEY, str(attempt.pk)) == clock.to_ms(attempt.hand_in_until)


# --- The listener's paths (called in this process) -----------------------------------------


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
def _due_hand_in_attempt(student, exam, *, armed: bool) -> int:
    attempt = _start(student, exam)
    set_deadline(attempt, seconds_from_now=-1)
    if armed:
        timers.set_timers([(attempt.pk, clock.to_ms(attempt.deadline_at))])
    else:
        timers.delete_timers([attempt.pk])
    return attempt.pk


@database_sync_to_async
def _state(attempt_id: int) -> tuple[str, str | None]:
    attempt = Attempt.objects.get(pk=attempt_id)
    event = AttemptEvent.objects.filter(attempt_id=attempt_id, kind=EventKind.OVERDUE).first()
    return attempt.status, event.path if event else None


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", [ExpiryPath.SWEEPER, ExpiryPath.KEYSPACE, ExpiryPath.RECONCILER])
async def test_every_listener_path_makes_it_overdue_and_rearms_the_window(
    listener, student, hand_in_exam, clean_redis, path
):
    attempt_id = await _due_hand_in_attempt(student, hand_in_exam, armed=path != ExpiryPath.RECONCILER)
    if path == ExpiryPath.SWEEPER:
        await listener.sweep_once()
    elif path == ExpiryPath.KEYSPACE:
        listener.events.put_nowait(attempt_id)
        await listener.drain_events()
    else:
        await listener.reconcile()
    await asyncio.gather(*listener.batches)

    assert await _state(attempt_id) == (AttemptStatus.OVERDUE, path)
    # The index holds it again, to the end of its hand-in window, and no lease is left.
    hand_in_until = (await database_sync_to_async(Attempt.objects.get)(pk=attempt_id)).hand_in_until
    assert clean_redis.zscore(timers.DEADLINES_KEY, str(attempt_id)) == clock.to_ms(hand_in_until)
    assert clean_redis.zcard(timers.CLAIMS_KEY) == 0
