"""§5 Reopening an ended attempt (exams/time_control.reopen): ongoing again with a new deadline through the
one rule, audited, timer armed, scored again at its new end."""

from datetime import timedelta

import pytest

from exams import clock, deadlines, services, time_control, timers
from exams.errors import Conflict
from exams.models import Attempt, AttemptEvent, AttemptStatus, EventKind, ExpiryPath, Question

from ..conftest import set_deadline

pytestmark = pytest.mark.django_db


def test_a_timed_out_attempt_reopens_with_n_minutes_and_is_scored_again(student, proctor, exam, clean_redis):
    attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt
    set_deadline(attempt, seconds_from_now=-1)
    services.expire_attempts(attempt_ids=[attempt.pk], path=ExpiryPath.ON_ACCESS)
    assert Attempt.objects.get(pk=attempt.pk).score == 0

    before = clock.now()
    reopened, grant = time_control.reopen(by=proctor, attempt_id=attempt.pk, minutes=10, reason="machine died")

    assert reopened.status == AttemptStatus.ONGOING and reopened.score is None and reopened.ended_at is None
    assert before + timedelta(minutes=10) <= reopened.deadline_at <= clock.now() + timedelta(minutes=10, seconds=1)
    assert reopened.deadline_at == deadlines.deadline_of(reopened)
    assert clean_redis.zscore(timers.DEADLINES_KEY, str(attempt.pk)) == clock.to_ms(reopened.deadline_at)
    event = AttemptEvent.objects.get(attempt=attempt, kind=EventKind.REOPENED)
    assert event.detail["by"] == proctor.username and event.detail["reason"] == "machine died"
    assert event.detail["seconds"] == grant and event.detail["previous"] == {"status": "timeout", "score": 0}

    question = Question.objects.filter(exam=exam).first()
    services.save_answer(user=student, attempt_id=attempt.pk, question_id=question.pk, selected_option="A")
    sheet = services.submit_attempt(user=student, attempt_id=attempt.pk)
    assert sheet.attempt.status == AttemptStatus.COMPLETED and sheet.attempt.score == 1


def test_an_ongoing_attempt_is_not_reopenable(student, proctor, exam):
    attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt
    with pytest.raises(Conflict) as info:
        time_control.reopen(by=proctor, attempt_id=attempt.pk, minutes=5, reason="x")
    assert info.value.code == "not_reopenable"


def test_reopening_past_the_close_needs_a_choice(student, proctor, make_exam):
    exam = make_exam(duration=60, closes_at=clock.now() + timedelta(minutes=3))
    attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt
    services.submit_attempt(user=student, attempt_id=attempt.pk)
    with pytest.raises(Conflict) as info:
        time_control.reopen(by=proctor, attempt_id=attempt.pk, minutes=10, reason="x")
    assert info.value.code == "past_close"
    assert "This runs 7 min past the close" in info.value.message  # 10 min from now, the close in 3
    assert "close=move" in info.value.message and "close=keep" in info.value.message
    reopened, _ = time_control.reopen(by=proctor, attempt_id=attempt.pk, minutes=10, reason="x", close="move")
    assert reopened.close_at == reopened.deadline_at > clock.now() + timedelta(minutes=9)
