"""An attempt's timeline (exams/deadlines.py): the one deadline function, its SQL twin, and the pause rule."""

from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.db.models import F
from hypothesis import given
from hypothesis import strategies as st

from exams import clock, deadlines, services, timers
from exams.expiry import batches
from exams.models import Attempt, AttemptStatus
from tests.support.hypothesis_profile import REAL_SERVICES

from .conftest import set_deadline

START = datetime(2026, 11, 24, 9, 0, 0, 250_000, tzinfo=UTC)

timelines = st.fixed_dictionaries(
    {
        "started_at": st.datetimes(
            min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
        ),
        "allotted_seconds": st.integers(min_value=0, max_value=6 * 3600),
        "extra_seconds": st.integers(min_value=-3600, max_value=3600),
        "paused_total": st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=2)),
        # The close relative to the start; None: no close.
        "close_after": st.none() | st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=9)),
    }
)


def row_of(timeline: dict) -> dict:
    close_after = timeline["close_after"]
    fields = {k: v for k, v in timeline.items() if k != "close_after"}
    return {**fields, "close_at": None if close_after is None else timeline["started_at"] + close_after}


def test_the_deadline_is_start_plus_allotted_plus_grants_plus_pauses_clamped_by_the_close():
    nominal = START + timedelta(seconds=5400 + 600 - 120, minutes=3)
    assert deadlines.attempt_deadline(START, 5400, 480, timedelta(minutes=3), None) == nominal
    assert deadlines.attempt_deadline(START, 5400, 480, timedelta(minutes=3), nominal + timedelta(1)) == nominal
    close = START + timedelta(hours=1)
    assert deadlines.attempt_deadline(START, 5400, 480, timedelta(minutes=3), close) == close


def test_allotted_seconds_applies_the_multiplier_then_the_extra_time_and_never_rounds_down():
    assert deadlines.allotted_seconds(3600) == 3600
    assert deadlines.allotted_seconds(3600, 1.5, 600) == 6000
    assert deadlines.allotted_seconds(61, 1.5) == 92  # 91.5 rounded up
    assert deadlines.allotted_seconds(100, "1.33") == 133


@pytest.mark.django_db
@REAL_SERVICES
@given(many=st.lists(timelines, min_size=1, max_size=8))
def test_the_sql_twin_computes_what_the_function_computes(many, student, exam):
    """One UPDATE over many rows writes each row's `attempt_deadline`, to the microsecond."""
    Attempt.objects.filter(exam=exam).delete()
    rows = [
        Attempt.objects.create(user=student, exam=exam, number=n, deadline_at=START, **row_of(t))
        for n, t in enumerate(many, 1)
    ]
    Attempt.objects.filter(exam=exam).update(deadline_at=deadlines.deadline_expression())
    for attempt in rows:
        attempt.refresh_from_db()
        assert attempt.deadline_at == deadlines.deadline_of(attempt)


@pytest.mark.django_db
@REAL_SERVICES
@given(timeline=timelines, grant=st.integers(min_value=-600, max_value=3600))
def test_a_timeline_update_reads_the_old_row_on_every_database(timeline, grant, student, exam):
    """MySQL evaluates SET left to right: `deadline_at` goes first, so a grant is counted once."""
    Attempt.objects.filter(exam=exam).delete()
    attempt = Attempt.objects.create(user=student, exam=exam, deadline_at=START, **row_of(timeline))
    Attempt.objects.filter(pk=attempt.pk).update(**deadlines.timeline_update(extra_seconds=F("extra_seconds") + grant))
    attempt.refresh_from_db()
    assert attempt.extra_seconds == timeline["extra_seconds"] + grant
    assert attempt.deadline_at == deadlines.deadline_of(attempt)


def test_a_timeline_update_can_clear_the_close_and_set_values(student, exam):
    attempt = Attempt.objects.create(
        user=student, exam=exam, started_at=START, allotted_seconds=600, close_at=START, deadline_at=START
    )
    Attempt.objects.filter(pk=attempt.pk).update(
        **deadlines.timeline_update(close_at=None, paused_total=timedelta(seconds=30))
    )
    attempt.refresh_from_db()
    assert (attempt.close_at, attempt.deadline_at) == (None, START + timedelta(seconds=630))
    with pytest.raises(ValueError, match="status"):
        deadlines.timeline_update(status="timeout")


def test_starting_fixes_the_allotted_time_and_the_close(student, make_exam):
    closes = clock.now() + timedelta(minutes=30)
    exam = make_exam(duration=3600, closes_at=closes)
    attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt
    attempt.refresh_from_db()
    assert (attempt.allotted_seconds, attempt.extra_seconds, attempt.close_at) == (3600, 0, closes)
    assert attempt.paused_total == timedelta(0) and attempt.paused_at is None
    assert attempt.deadline_at == closes == deadlines.deadline_of(attempt)


def test_an_extension_is_recorded_in_the_timeline(student, proctor, exam):
    attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt
    extended = services.extend_attempt(attempt_id=attempt.pk, seconds=90, by=proctor)
    assert extended.extra_seconds == 90
    assert extended.deadline_at == attempt.deadline_at + timedelta(seconds=90) == deadlines.deadline_of(extended)


def test_set_deadline_moves_the_whole_timeline(student, exam):
    attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt
    moved = set_deadline(attempt, seconds_from_now=-5)
    assert moved.deadline_at == deadlines.deadline_of(moved)


def pause(attempt: Attempt) -> Attempt:
    Attempt.objects.filter(pk=attempt.pk).update(paused_at=clock.now())
    attempt.refresh_from_db()
    return attempt


def test_a_paused_attempt_is_never_due_however_stale_its_deadline(student, exam):
    attempt = pause(set_deadline(services.start_attempt(user=student, exam_id=exam.pk).attempt, seconds_from_now=-60))
    now = clock.now()
    assert not attempt.is_due(now) and attempt.is_paused
    assert not Attempt.objects.due(now).filter(pk=attempt.pk).exists()
    # `due` and `live` still split the ongoing attempts: a paused one is live (it can be submitted or extended).
    assert Attempt.objects.live(now).filter(pk=attempt.pk).exists()
    assert list(Attempt.objects.paused()) == [attempt] and not Attempt.objects.running().exists()


def test_no_expiry_path_times_out_a_paused_attempt(student, exam):
    attempt = pause(set_deadline(services.start_attempt(user=student, exam_id=exam.pk).attempt, seconds_from_now=-60))
    assert services.expire_attempts(attempt_ids=[attempt.pk], path="sweeper") == []
    assert services.current_attempt(user=student, attempt_id=attempt.pk).status == AttemptStatus.ONGOING
    assert services.settle_attempt(attempt_id=attempt.pk).status == AttemptStatus.ONGOING
    timers.delete_timers([attempt.pk])
    # The reconciler neither times it out nor re-arms a timer for it (one would fire at once, again and again).
    assert batches.reconcile() == (0, 0)
    assert batches.rearm(attempt_ids=[attempt.pk]) == 0
    assert timers.get_redis().exists(timers.timer_key(attempt.pk)) == 0
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.ONGOING


def test_the_migration_backfills_the_timeline_from_the_deadline(student, make_exam):
    module = __import__("exams.migrations.0003_attempt_timeline", fromlist=["backfill"])
    closes = START + timedelta(hours=3)
    exam = make_exam(closes_at=closes)
    attempt = Attempt.objects.create(
        user=student, exam=exam, started_at=START, deadline_at=START + timedelta(seconds=3700), extra_seconds=100
    )
    Attempt.objects.filter(pk=attempt.pk).update(allotted_seconds=0)
    module.backfill(apps, None)
    attempt.refresh_from_db()
    assert (attempt.allotted_seconds, attempt.close_at) == (3600, closes)
    assert deadlines.deadline_of(attempt) == attempt.deadline_at


PAUSES = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=1))


@pytest.mark.django_db
@REAL_SERVICES
@given(many=st.lists(st.tuples(timelines, PAUSES), min_size=1, max_size=6))
def test_resuming_many_rows_in_one_update_adds_each_pause_exactly(many, student, exam):
    Attempt.objects.filter(exam=exam).delete()
    now = clock.now()
    rows = [
        Attempt.objects.create(user=student, exam=exam, number=n, deadline_at=START, **row_of(t))
        for n, (t, _) in enumerate(many, 1)
    ]
    Attempt.objects.filter(exam=exam).update(deadline_at=deadlines.deadline_expression())
    for (_, paused_for), attempt in zip(many, rows, strict=True):
        Attempt.objects.filter(pk=attempt.pk).update(**deadlines.pause_update(now - paused_for))
        attempt.refresh_from_db()
    Attempt.objects.filter(exam=exam).update(**deadlines.resume_update(now))
    for (_, paused_for), attempt in zip(many, rows, strict=True):
        before = attempt.deadline_at
        attempt.refresh_from_db()
        assert attempt.paused_at is None
        assert attempt.paused_total == row_of(many[rows.index(attempt)][0])["paused_total"] + paused_for
        assert attempt.deadline_at == deadlines.deadline_of(attempt)
        if attempt.close_at is None:
            assert attempt.deadline_at == before + paused_for
