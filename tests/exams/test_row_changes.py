"""exams/row_changes.py: the attempts a reconnecting dashboard must be sent again, and no other."""

from datetime import timedelta

import pytest

from exams import clock, row_changes, services
from exams.models import AttemptEvent, EventKind

pytestmark = pytest.mark.django_db

LONG_AGO = row_changes.GRACE + timedelta(minutes=1)


@pytest.fixture
def attempts(make_user, exam) -> list:
    started = [services.start_attempt(user=make_user(), exam_id=exam.pk).attempt for _ in range(3)]
    AttemptEvent.objects.update(at=clock.now() - LONG_AGO)
    return started


def test_only_attempts_with_an_event_after_since_and_of_this_exam(attempts, exam, make_exam, make_user):
    since = clock.now()
    assert row_changes.changed_attempt_ids(exam_id=exam.pk, since=since) == []
    AttemptEvent.objects.create(attempt=attempts[1], kind=EventKind.EXTENDED, at=clock.now())
    other = services.start_attempt(user=make_user(), exam_id=make_exam().pk).attempt
    assert row_changes.changed_attempt_ids(exam_id=exam.pk, since=since) == [attempts[1].pk]
    assert row_changes.changed_attempt_ids(exam_id=other.exam_id, since=since) == [other.pk]


def test_an_answer_stored_late_with_its_old_receipt_time_still_counts(attempts, exam):
    """Received before `since` (the database was away), stored after it: the dashboard never saw it."""
    since = clock.now()
    AttemptEvent.objects.create(attempt=attempts[2], kind=EventKind.ANSWER_SAVED, at=since - LONG_AGO * 2)
    assert row_changes.changed_attempt_ids(exam_id=exam.pk, since=since) == [attempts[2].pk]


def test_a_change_just_before_since_is_sent_again(attempts, exam):
    """Committed in any order, delivered late: what happened within GRACE before `since` may not have reached it."""
    AttemptEvent.objects.create(attempt=attempts[0], kind=EventKind.PAUSED, at=clock.now())
    since = clock.now() + row_changes.GRACE / 2
    assert row_changes.changed_attempt_ids(exam_id=exam.pk, since=since) == [attempts[0].pk]


def test_a_since_older_than_max_age_asks_for_everything(attempts, exam):
    assert row_changes.changed_attempt_ids(exam_id=exam.pk, since=clock.now() - row_changes.MAX_AGE * 2) is None
