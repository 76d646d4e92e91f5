"""The deadline rule (`exams/deadlines.py`) and the queryset built on it, at the boundary."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from exams import clock, deadlines
from exams.models import Attempt, AttemptStatus

from .conftest import exam_settings

MS = timedelta(milliseconds=1)
US = timedelta(microseconds=1)
# A deadline with a sub-millisecond part, as real ones have.
DEADLINE = datetime(2026, 11, 24, 17, 4, 5, 123_456, tzinfo=UTC)


@pytest.fixture(params=[0.0, 2.5])
def grace(request):
    with override_settings(EXAM=exam_settings(ANSWER_GRACE_SECONDS=request.param)):
        yield timedelta(seconds=request.param)


def test_due_strictly_after_deadline_plus_grace(grace):
    cutoff = DEADLINE + grace
    assert deadlines.grace() == grace
    assert not deadlines.is_due(DEADLINE, cutoff - MS)
    # An answer received exactly at deadline + grace still counts.
    assert not deadlines.is_due(DEADLINE, cutoff)
    assert deadlines.is_due(DEADLINE, cutoff + US)
    assert deadlines.is_due(DEADLINE, cutoff + MS)
    assert deadlines.due_cutoff(cutoff) == DEADLINE


def test_redis_milliseconds_never_find_an_attempt_due_before_the_rule(grace):
    due_at = deadlines.due_at_ms(clock.to_ms(DEADLINE))
    at = datetime.fromtimestamp(due_at / 1000, UTC)
    assert deadlines.is_due(DEADLINE, at)
    # One millisecond earlier the rule may not be due yet (here it is not: 123.456 ms + grace).
    assert not deadlines.is_due(DEADLINE, at - MS)
    assert deadlines.latest_due_ms(due_at) == clock.to_ms(DEADLINE)
    assert deadlines.latest_due_ms(due_at - 1) == clock.to_ms(DEADLINE) - 1


@pytest.mark.parametrize("grace_seconds", [0.0, 0.0004, 0.0015, 1.0, 2.5])
def test_the_milliseconds_rule_agrees_with_the_rule_at_every_sub_millisecond_deadline(grace_seconds):
    with override_settings(EXAM=exam_settings(ANSWER_GRACE_SECONDS=grace_seconds)):
        for sub_ms in (0, 1, 499, 500, 999):
            deadline = DEADLINE.replace(microsecond=123_000 + sub_ms)
            due_at = deadlines.due_at_ms(clock.to_ms(deadline))
            assert deadlines.is_due(deadline, datetime.fromtimestamp(due_at / 1000, UTC))
            # Never more than a millisecond late.
            assert not deadlines.is_due(deadline, datetime.fromtimestamp((due_at - 2) / 1000, UTC))


@pytest.mark.parametrize(
    "left",
    [timedelta(0), US, MS, timedelta(seconds=1) - US, timedelta(seconds=1), timedelta(seconds=1) + US, -US, -MS],
)
def test_remaining_seconds_rounds_up_and_never_goes_below_zero(left):
    expected = max(0, -(-(left // US) // 1_000_000))
    assert deadlines.remaining_seconds(DEADLINE, DEADLINE - left) == expected
    # The ticker's integer form is the same rule.
    assert deadlines.remaining_seconds_us(clock.to_us(DEADLINE), clock.to_us(DEADLINE - left)) == expected


def test_remaining_seconds_examples():
    assert deadlines.remaining_seconds(DEADLINE, DEADLINE - timedelta(seconds=59, microseconds=1)) == 60
    assert deadlines.remaining_seconds(DEADLINE, DEADLINE - timedelta(seconds=59)) == 59
    assert deadlines.remaining_seconds(DEADLINE, DEADLINE) == 0
    assert deadlines.remaining_seconds(DEADLINE, DEADLINE + timedelta(hours=1)) == 0


def test_remaining_seconds_integer_and_datetime_forms_agree_over_a_range():
    deadline_us = clock.to_us(DEADLINE)
    for offset_us in range(-3_000_000, 3_000_001, 250_001):
        at = DEADLINE + timedelta(microseconds=offset_us)
        assert deadlines.remaining_seconds(DEADLINE, at) == deadlines.remaining_seconds_us(
            deadline_us, deadline_us + offset_us
        )


def test_settle_cutoff_waits_for_grace_and_slack():
    with override_settings(EXAM=exam_settings(ANSWER_GRACE_SECONDS=3.0, ON_ACCESS_SLACK_SECONDS=2.0)):
        now_us = clock.to_us(DEADLINE + timedelta(seconds=5))
        assert deadlines.settle_cutoff_us(now_us) == clock.to_us(DEADLINE)
        # The settle point is never before the attempt is due.
        assert deadlines.is_due(DEADLINE, DEADLINE + timedelta(seconds=5, microseconds=1))


def test_to_ms_and_to_us_are_exact():
    assert clock.to_us(DEADLINE) == 1_795_539_845_123_456
    assert clock.to_ms(DEADLINE) == 1_795_539_845_123
    # A float timestamp would round this one up to the next millisecond.
    late = datetime(2026, 11, 24, 17, 4, 5, 999_999, tzinfo=UTC)
    assert clock.to_ms(late) == clock.to_us(late) // 1000


# --- The queryset, on the database -------------------------------------------------------


@pytest.fixture
def attempts(student, exam):
    """(their deadline, {name: attempt}): two ongoing attempts and a timed-out one, all with one deadline."""
    deadline = DEADLINE.replace(year=clock.now().year)
    rows = {}
    for number, name in enumerate(["one", "two", "ended"], start=1):
        rows[name] = Attempt.objects.create(
            user=student, exam=exam, number=number, started_at=deadline - timedelta(minutes=5), deadline_at=deadline
        )
    Attempt.objects.filter(pk=rows["ended"].pk).update(status=AttemptStatus.TIMEOUT)
    return deadline, rows


@pytest.mark.django_db
def test_due_and_live_split_ongoing_at_the_boundary(attempts, grace):
    deadline, rows = attempts
    cutoff = deadline + grace
    ids = [a.pk for a in rows.values()]
    qs = Attempt.objects.filter(pk__in=ids)

    ongoing = set(qs.ongoing().values_list("pk", flat=True))
    assert ongoing == {rows["one"].pk, rows["two"].pk}
    for at, due in [(cutoff - MS, False), (cutoff, False), (cutoff + MS, True)]:
        due_ids = set(qs.due(at).values_list("pk", flat=True))
        live_ids = set(qs.live(at).values_list("pk", flat=True))
        assert due_ids == (ongoing if due else set()), at
        assert live_ids == (set() if due else ongoing), at
        # The queryset and the in-memory rule agree, and an ended attempt is neither.
        assert all(Attempt.objects.get(pk=pk).is_due(at) == due for pk in ongoing)
        assert not Attempt.objects.get(pk=rows["ended"].pk).is_due(at)
