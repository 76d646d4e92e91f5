"""The `timed_out` events of a batch, written by the database from the ended rows (exams/insert_select.py):
each as the ORM would have written it, its lateness floored to the millisecond as clock.to_ms floors it."""

from datetime import timedelta

import pytest

from exams import clock, services
from exams.models import AtDeadline, Attempt, AttemptEvent, EventKind, ExpiryPath

pytestmark = pytest.mark.django_db


def test_each_timed_out_event_is_what_the_orm_would_have_written(make_user, make_exam):
    exam = make_exam(duration=600)
    now = clock.now()
    # Deadlines off the millisecond grid, late by 0 ms to 70 s: the floors of both instants matter.
    lates = [timedelta(microseconds=us) for us in (1, 999, 1_000, 1_001, 456_789, 70_000_999)]
    attempts = [
        Attempt.objects.create(
            user=make_user(), exam=exam, number=1, started_at=now - timedelta(minutes=20), deadline_at=now - late
        )
        for late in lates
    ]
    ended = services.expire_attempts(attempt_ids=[a.pk for a in attempts], path=ExpiryPath.SWEEPER, notify=False)
    assert sorted(a.pk for a in ended) == sorted(a.pk for a in attempts)
    for attempt in Attempt.objects.filter(pk__in=[a.pk for a in attempts]):
        [event] = AttemptEvent.objects.filter(attempt=attempt, kind=EventKind.TIMED_OUT)
        assert (event.at, event.path, event.detail) == (attempt.ended_at, ExpiryPath.SWEEPER, {})
        assert event.lateness_ms == clock.to_ms(attempt.ended_at) - clock.to_ms(attempt.deadline_at)


def test_after_a_hand_in_window_the_lateness_counts_from_its_end(student, make_exam):
    exam = make_exam(duration=600, at_deadline=AtDeadline.HAND_IN, hand_in_seconds=60)
    now = clock.now()
    attempt = Attempt.objects.create(
        user=student,
        exam=exam,
        number=1,
        started_at=now - timedelta(minutes=20),
        deadline_at=now - timedelta(minutes=5),
        status="overdue",
        hand_in_until=now - timedelta(seconds=3, microseconds=500),
    )
    services.expire_attempts(attempt_ids=[attempt.pk], path=ExpiryPath.RECONCILER, notify=False)
    attempt.refresh_from_db()
    event = AttemptEvent.objects.get(attempt=attempt, kind=EventKind.TIMED_OUT)
    assert event.lateness_ms == clock.to_ms(attempt.ended_at) - clock.to_ms(attempt.hand_in_until) >= 3000
