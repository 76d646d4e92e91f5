"""§4 Pause and resume (exams/time_control.py), on the real database and the real Redis: the clock stands
still, nothing is answered, submitted or timed out meanwhile, and resuming moves the deadline by the paused
time exactly, in a bounded number of statements."""

import time
from datetime import timedelta

import pytest

from exams import clock, services, time_control, timers
from exams.contract import builders, rest
from exams.errors import Conflict, Forbidden, NotFound, ServiceError
from exams.models import Attempt, AttemptEvent, AttemptStatus, EventKind, Exam, ExamEvent, ExpiryPath, Question
from tests.support.contract_check import check

from ..conftest import set_deadline
from .conftest import Statements, fresh

pytestmark = pytest.mark.django_db


def _pause(proctor, attempt, **kw):
    return time_control.pause(
        by=proctor, exam_id=attempt.exam_id, category="technical", note="laptop", attempt_ids=[attempt.pk], **kw
    )


def _code(exc_type, code, func, **kwargs):
    with pytest.raises(exc_type) as info:
        func(**kwargs)
    assert info.value.code == code, info.value.message
    return info.value


def test_a_paused_attempt_has_no_timer_and_a_frozen_clock(student, proctor, exam, clean_redis, on_commit):
    attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt
    with on_commit():
        done = _pause(proctor, attempt)

    attempt.refresh_from_db()
    assert done.attempt_ids == [attempt.pk] and attempt.is_paused
    assert not clean_redis.exists(timers.timer_key(attempt.pk))
    assert clean_redis.zscore(timers.DEADLINES_KEY, str(attempt.pk)) is None
    [event] = AttemptEvent.objects.filter(attempt=attempt, kind=EventKind.PAUSED)
    assert event.detail == {"category": "technical", "note": "laptop", "by": proctor.username, "scope": "selection"}
    body = builders.timer(attempt, at=clock.now() + timedelta(seconds=30))
    check(rest.Timer, body)
    # 30 s later it still shows what was left at the pause.
    assert body["remaining_seconds"] == builders.timer(attempt, at=attempt.paused_at)["remaining_seconds"]
    assert body["paused_at"] == clock.iso(attempt.paused_at)


def test_answers_and_the_students_submit_are_refused_while_paused(student, proctor, exam):
    attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt
    question = Question.objects.filter(exam=exam).first()
    sent_before = clock.now()
    _pause(proctor, attempt)

    _code(
        Conflict,
        "attempt_paused",
        services.save_answer,
        user=student,
        attempt_id=attempt.pk,
        question_id=question.pk,
        selected_option="A",
    )
    _code(Conflict, "attempt_paused", services.submit_attempt, user=student, attempt_id=attempt.pk)
    # Judged at receipt: one received before the pause is stored.
    services.save_answer(
        user=student, attempt_id=attempt.pk, question_id=question.pk, selected_option="A", received_at=sent_before
    )
    assert Attempt.objects.get(pk=attempt.pk).answers.count() == 1


def test_resume_moves_the_deadline_by_the_paused_time_exactly(student, proctor, exam, clean_redis, on_commit):
    attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt
    _pause(proctor, attempt)
    time.sleep(0.3)
    with on_commit():
        time_control.resume(by=proctor, exam_id=exam.pk, attempt_ids=[attempt.pk])

    before, paused_at = attempt.deadline_at, Attempt.objects.get(pk=attempt.pk)
    attempt.refresh_from_db()
    [unpaused] = AttemptEvent.objects.filter(attempt=attempt, kind=EventKind.UNPAUSED)
    paused_for = unpaused.at - AttemptEvent.objects.get(attempt=attempt, kind=EventKind.PAUSED).at
    assert attempt.paused_at is None and attempt.paused_total == paused_for
    assert attempt.deadline_at - before == paused_for >= timedelta(seconds=0.3)
    assert unpaused.detail["paused_ms"] == paused_for // timedelta(milliseconds=1)
    assert unpaused.detail["category"] == "technical" and unpaused.detail["ended_by"] == proctor.username
    # The timer runs again, to the moved deadline.
    assert clean_redis.zscore(timers.DEADLINES_KEY, str(attempt.pk)) == clock.to_ms(attempt.deadline_at)
    assert paused_at.paused_at is None


def test_a_paused_attempt_past_its_old_deadline_is_not_timed_out_on_access(student, proctor, exam):
    attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt
    _pause(proctor, attempt)
    set_deadline(attempt, seconds_from_now=-30)

    assert services.expire_attempts(attempt_ids=[attempt.pk], path=ExpiryPath.ON_ACCESS) == []
    assert services.current_attempt(user=student, attempt_id=attempt.pk).status == AttemptStatus.ONGOING
    assert services.open_attempt(user_id=student.pk, attempt_id=attempt.pk).status == AttemptStatus.ONGOING
    services.student_exams(user=student)
    assert services.start_attempt(user=student, exam_id=exam.pk).attempt.pk == attempt.pk
    assert Attempt.objects.get(pk=attempt.pk).status == AttemptStatus.ONGOING


def test_pausing_the_exam_pauses_every_running_attempt_and_a_start_comes_out_paused(
    make_user, proctor, exam, start_many, on_commit
):
    attempts = start_many(exam, 5)
    with on_commit():
        done = time_control.pause(by=proctor, exam_id=exam.pk, category="environment", note="Fire alarm")

    assert sorted(done.attempt_ids) == sorted(a.pk for a in attempts)
    assert all(a.is_paused for a in fresh(attempts))
    assert Exam.objects.get(pk=exam.pk).paused_at is not None
    assert services.start_attempt(user=make_user(), exam_id=exam.pk).attempt.is_paused
    _code(Conflict, "exam_paused", time_control.pause, by=proctor, exam_id=exam.pk, category="other")
    assert ExamEvent.objects.filter(exam=exam, kind="exam_paused").count() == 1


def test_resuming_the_exam_moves_its_close_and_its_attempts_closes(make_exam, proctor, start_many, on_commit):
    closes_at = clock.now() + timedelta(hours=2)
    exam = make_exam(duration=3600, closes_at=closes_at)
    attempts = start_many(exam, 3)
    time_control.pause(by=proctor, exam_id=exam.pk, category="environment")
    time.sleep(0.2)
    time_control.resume(by=proctor, exam_id=exam.pk)

    exam.refresh_from_db()
    moved = exam.closes_at - closes_at
    assert moved >= timedelta(seconds=0.2) and exam.paused_at is None
    for before, after in zip(attempts, fresh(attempts), strict=True):
        assert after.close_at - before.close_at == moved
        assert after.deadline_at - before.deadline_at == after.paused_total == moved
    assert ExamEvent.objects.get(exam=exam, kind="exam_resumed").detail["close"] == "move"


def test_resuming_the_exam_can_keep_the_close(make_exam, proctor, start_many):
    closes_at = clock.now() + timedelta(seconds=1800)  # the close clamps the 1-hour attempts
    exam = make_exam(duration=3600, closes_at=closes_at)
    [attempt] = start_many(exam, 1)
    time_control.pause(by=proctor, exam_id=exam.pk, category="staff")
    time_control.resume(by=proctor, exam_id=exam.pk, close="keep")

    [after] = fresh([attempt])
    assert Exam.objects.get(pk=exam.pk).closes_at == closes_at
    assert after.close_at == attempt.close_at == after.deadline_at  # still clamped by the kept close


def test_an_attempt_paused_before_the_exam_stays_paused_when_the_exam_resumes(proctor, exam, start_many):
    alone, other = start_many(exam, 2)
    _pause(proctor, alone)
    time_control.pause(by=proctor, exam_id=exam.pk, category="environment")
    done = time_control.resume(by=proctor, exam_id=exam.pk)

    assert done.attempt_ids == [other.pk]
    alone_now, other_now = fresh([alone, other])
    assert alone_now.is_paused and not other_now.is_paused


def test_resuming_many_is_a_bounded_number_of_statements(proctor, exam, start_many):
    attempts = start_many(exam, 40)
    time_control.pause(by=proctor, exam_id=exam.pk, category="environment")
    with Statements() as statements:
        time_control.resume(by=proctor, exam_id=exam.pk)
    # The closes' move, then one UPDATE per distinct pause instant: 2 for 40 attempts.
    assert statements.count("UPDATE") == 2
    assert all(not a.is_paused for a in fresh(attempts))


def test_pausing_many_is_one_update(proctor, exam, start_many):
    start_many(exam, 40)
    with Statements() as statements:
        time_control.pause(by=proctor, exam_id=exam.pk, category="environment")
    assert statements.count("UPDATE") == 1


def test_force_submit_of_a_paused_attempt_records_the_pause_first(student, proctor, exam):
    attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt
    _pause(proctor, attempt)
    sheet = services.force_submit_attempt(attempt_id=attempt.pk, by=proctor)
    assert sheet.attempt.status == AttemptStatus.COMPLETED
    kinds = list(AttemptEvent.objects.filter(attempt=attempt).values_list("kind", flat=True))
    assert kinds[-3:] == [EventKind.PAUSED, EventKind.UNPAUSED, EventKind.FORCE_SUBMITTED]


def test_bad_requests_get_clear_codes(student, make_user, proctor, exam, make_exam):
    attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt
    other = services.start_attempt(user=make_user(), exam_id=make_exam().pk).attempt
    _code(Forbidden, "not_staff", time_control.pause, by=student, exam_id=exam.pk, category="other")
    _code(ServiceError, "invalid", time_control.pause, by=proctor, exam_id=exam.pk, category="fire")
    _code(
        NotFound,
        "not_in_exam",
        time_control.pause,
        by=proctor,
        exam_id=exam.pk,
        category="other",
        attempt_ids=[attempt.pk, other.pk],
    )
    _code(Conflict, "not_paused", time_control.resume, by=proctor, exam_id=exam.pk)
    _code(Conflict, "not_paused", time_control.resume, by=proctor, exam_id=exam.pk, attempt_ids=[attempt.pk])
    _pause(proctor, attempt)
    _code(Conflict, "nothing_to_change", _pause, proctor=proctor, attempt=attempt)
