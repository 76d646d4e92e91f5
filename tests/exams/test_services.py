"""The business rules in `exams/services.py`, on the real database and the real Redis."""

from datetime import timedelta

import pytest
from django.test import override_settings

from exams import clock, services, timers
from exams.contract import builders
from exams.contract.limits import MAX_EXTEND_SECONDS
from exams.errors import Conflict, Forbidden, NotFound, ServiceError, TimeUp
from exams.models import Answer, Attempt, AttemptEvent, AttemptStatus, EventKind, ExpiryPath, Question

from .conftest import event_kinds, exam_settings, set_deadline

pytestmark = pytest.mark.django_db

# The TTL runs to the first millisecond the attempt is due: deadline (ms) + grace + 1 (exams/deadlines.py).
SLACK_MS = 1500


def _start(user, exam) -> Attempt:
    return services.start_attempt(user=user, exam_id=exam.pk).attempt


def _questions(exam) -> list[Question]:
    return list(Question.objects.filter(exam=exam))


def _answer(user, attempt, question, option="A") -> Answer:
    return services.save_answer(user=user, attempt_id=attempt.pk, question_id=question.pk, selected_option=option)


def _raises(exc_type, status: int, code: str, func, **kwargs):
    with pytest.raises(exc_type) as info:
        func(**kwargs)
    assert info.value.status == status
    assert info.value.code == code
    return info.value


# --- Start ----------------------------------------------------------------------------


def test_start_creates_an_attempt_with_its_clock(student, exam, clean_redis):
    before = clock.now()
    result = services.start_attempt(user=student, exam_id=exam.pk)
    attempt = result.attempt

    assert result.created is True
    assert attempt.status == AttemptStatus.ONGOING and attempt.number == 1
    assert before <= attempt.started_at <= clock.now()
    assert attempt.deadline_at == attempt.started_at + timedelta(seconds=exam.duration_seconds)
    deadline_ms = clock.to_ms(attempt.deadline_at)
    assert int(clean_redis.get(timers.timer_key(attempt.pk))) == deadline_ms
    assert 60_000 - SLACK_MS < clean_redis.pttl(timers.timer_key(attempt.pk)) <= 60_000 + 1
    assert clean_redis.zscore(timers.DEADLINES_KEY, str(attempt.pk)) == deadline_ms
    assert event_kinds(attempt) == [EventKind.STARTED]


def test_start_again_resumes_with_the_true_remaining_time(student, exam, clean_redis):
    attempt = _start(student, exam)
    # 50 s of the 60 have gone by, and Redis lost the timer meanwhile.
    set_deadline(attempt, seconds_from_now=10)
    clean_redis.flushdb()

    result = services.start_attempt(user=student, exam_id=exam.pk)

    assert result.created is False
    assert result.attempt.pk == attempt.pk
    assert result.attempt.deadline_at == attempt.deadline_at
    assert Attempt.objects.count() == 1
    assert event_kinds(attempt) == [EventKind.STARTED, EventKind.RESUMED]
    # The timer is re-armed on the true deadline, never a fresh 60 s.
    assert 10_000 - SLACK_MS < clean_redis.pttl(timers.timer_key(attempt.pk)) <= 10_000 + 1
    assert clean_redis.zscore(timers.DEADLINES_KEY, str(attempt.pk)) == clock.to_ms(attempt.deadline_at)


def test_start_after_the_deadline_times_out_the_old_attempt_then_starts_anew(student, make_exam):
    exam = make_exam(max_attempts=2)
    old = set_deadline(_start(student, exam), seconds_from_now=-3)

    result = services.start_attempt(user=student, exam_id=exam.pk)

    old.refresh_from_db()
    assert old.status == AttemptStatus.TIMEOUT
    assert AttemptEvent.objects.get(attempt=old, kind=EventKind.TIMED_OUT).path == ExpiryPath.ON_ACCESS
    assert result.created is True and result.attempt.number == 2


def test_max_attempts(student, make_exam):
    exam = make_exam(max_attempts=2)
    first = _start(student, exam)
    services.submit_attempt(user=student, attempt_id=first.pk)
    second = services.start_attempt(user=student, exam_id=exam.pk)
    assert second.created and second.attempt.number == 2
    services.submit_attempt(user=student, attempt_id=second.attempt.pk)

    _raises(Conflict, 409, "attempts_exhausted", services.start_attempt, user=student, exam_id=exam.pk)
    assert Attempt.objects.filter(user=student, exam=exam).count() == 2


def test_max_attempts_counts_per_student(student, make_user, exam):
    _start(student, exam)
    other = make_user()
    assert services.start_attempt(user=other, exam_id=exam.pk).created


def test_start_unpublished_exam_is_400(student, make_exam):
    exam = make_exam(published=False)
    _raises(ServiceError, 400, "exam_not_published", services.start_attempt, user=student, exam_id=exam.pk)
    assert not Attempt.objects.exists()


def test_start_unknown_exam_is_404(student):
    _raises(NotFound, 404, "not_found", services.start_attempt, user=student, exam_id=999_999)


def test_start_before_the_exam_opens(student, make_exam):
    exam = make_exam(opens_at=clock.now() + timedelta(hours=1))
    _raises(Conflict, 409, "exam_not_open", services.start_attempt, user=student, exam_id=exam.pk)
    assert not Attempt.objects.exists()


def test_start_after_the_exam_closes(student, make_exam):
    exam = make_exam(opens_at=clock.now() - timedelta(hours=2), closes_at=clock.now() - timedelta(seconds=1))
    _raises(Conflict, 409, "exam_closed", services.start_attempt, user=student, exam_id=exam.pk)
    assert not Attempt.objects.exists()


def test_start_inside_the_window(student, make_exam):
    exam = make_exam(opens_at=clock.now() - timedelta(minutes=1), closes_at=clock.now() + timedelta(hours=1))
    attempt = _start(student, exam)
    assert attempt.deadline_at == attempt.started_at + timedelta(seconds=60)


def test_deadline_is_capped_at_closing_time(student, make_exam, clean_redis):
    closes_at = (clock.now() + timedelta(seconds=20)).replace(microsecond=0)
    exam = make_exam(duration=3600, closes_at=closes_at)

    attempt = _start(student, exam)

    assert attempt.deadline_at == closes_at
    assert clean_redis.zscore(timers.DEADLINES_KEY, str(attempt.pk)) == clock.to_ms(closes_at)
    assert clean_redis.pttl(timers.timer_key(attempt.pk)) <= 20_000 + 1


# --- Answers --------------------------------------------------------------------------


def test_save_answer_stores_and_replaces(student, exam):
    attempt = _start(student, exam)
    question = _questions(exam)[0]

    first = _answer(student, attempt, question, "B")
    second = _answer(student, attempt, question, "A")

    assert Answer.objects.filter(attempt=attempt).count() == 1
    stored = Answer.objects.get(attempt=attempt, question=question)
    assert stored.pk == first.pk == second.pk
    assert stored.selected_option == "A"
    assert stored.saved_at >= first.saved_at
    assert event_kinds(attempt) == [EventKind.STARTED, EventKind.ANSWER_SAVED, EventKind.ANSWER_SAVED]


def test_answer_to_a_question_of_another_exam_is_400(student, exam, make_exam):
    attempt = _start(student, exam)
    foreign = _questions(make_exam())[0]
    _raises(NotFound, 404, "invalid_question", _answer, user=student, attempt=attempt, question=foreign)
    assert not Answer.objects.exists()


def test_answer_with_an_option_the_question_lacks_is_400(student, exam):
    attempt = _start(student, exam)
    question = _questions(exam)[0]
    _raises(NotFound, 404, "invalid_option", _answer, user=student, attempt=attempt, question=question, option="Z")
    assert not Answer.objects.exists()


def test_answer_after_the_deadline_is_410_and_not_stored(student, exam):
    attempt = _start(student, exam)
    question = _questions(exam)[0]
    _answer(student, attempt, question, "A")
    set_deadline(attempt, seconds_from_now=-1)

    _raises(TimeUp, 410, "time_up", _answer, user=student, attempt=attempt, question=question, option="B")

    assert Answer.objects.get(attempt=attempt, question=question).selected_option == "A"
    attempt.refresh_from_db()
    # The late answer also ends the attempt on access.
    assert attempt.status == AttemptStatus.TIMEOUT
    assert attempt.score == 1


def test_answer_to_a_timed_out_attempt_is_410(student, exam):
    attempt = set_deadline(_start(student, exam), seconds_from_now=-1)
    services.expire_attempts(attempt_ids=[attempt.pk], path=ExpiryPath.SWEEPER)
    question = _questions(exam)[0]
    _raises(TimeUp, 410, "time_up", _answer, user=student, attempt=attempt, question=question)
    assert not Answer.objects.exists()


def test_answer_to_a_completed_attempt_is_409(student, exam):
    attempt = _start(student, exam)
    services.submit_attempt(user=student, attempt_id=attempt.pk)
    question = _questions(exam)[0]
    _raises(Conflict, 409, "attempt_completed", _answer, user=student, attempt=attempt, question=question)
    assert not Answer.objects.exists()


def test_answer_to_someone_elses_attempt_is_403(student, make_user, exam):
    attempt = _start(student, exam)
    question = _questions(exam)[0]
    _raises(Forbidden, 403, "not_owner", _answer, user=make_user(), attempt=attempt, question=question)
    assert not Answer.objects.exists()


def test_answer_to_an_unknown_attempt_is_404(student, exam):
    question = _questions(exam)[0]
    _raises(
        NotFound,
        404,
        "not_found",
        services.save_answer,
        user=student,
        attempt_id=999_999,
        question_id=question.pk,
        selected_option="A",
    )


# --- Answers judged at receipt ---------------------------------------------------------


def _answer_received(user, attempt, question, option, received_at) -> Answer:
    return services.save_answer(
        user=user, attempt_id=attempt.pk, question_id=question.pk, selected_option=option, received_at=received_at
    )


def test_an_answer_received_in_time_is_stored_after_the_timeout_won_the_race(student, exam, caplog):
    attempt = _start(student, exam)
    q1, q2, _ = _questions(exam)
    _answer(student, attempt, q1, "A")
    attempt = set_deadline(attempt, seconds_from_now=-1)
    received_at = attempt.deadline_at - timedelta(milliseconds=300)
    # The listener times the attempt out while the answer waits to be processed.
    assert services.expire_attempts(attempt_ids=[attempt.pk], path=ExpiryPath.SWEEPER)
    attempt.refresh_from_db()
    assert (attempt.status, attempt.score) == (AttemptStatus.TIMEOUT, 1)

    answer = _answer_received(student, attempt, q2, "A", received_at)

    assert (answer.selected_option, answer.saved_at) == ("A", received_at)
    ended_at = attempt.ended_at
    attempt.refresh_from_db()
    # Re-scored; still the same timeout.
    assert (attempt.status, attempt.score, attempt.max_score, attempt.ended_at) == (
        AttemptStatus.TIMEOUT,
        2,
        3,
        ended_at,
    )
    event = AttemptEvent.objects.filter(attempt=attempt).last()
    assert (event.kind, event.at, event.detail["after_end"]) == (EventKind.ANSWER_SAVED, received_at, "timeout")
    assert "stored and re-scored" in caplog.text
    assert builders.result(services.submit_attempt(user=student, attempt_id=attempt.pk))["score"] == 2


def test_an_answer_received_after_deadline_and_grace_is_refused(student, exam):
    with override_settings(EXAM=exam_settings(ANSWER_GRACE_SECONDS=2.0)):
        attempt = set_deadline(_start(student, exam), seconds_from_now=-5)
        q1, q2, _ = _questions(exam)
        services.expire_attempts(attempt_ids=[attempt.pk], path=ExpiryPath.SWEEPER)

        # Within the grace: stored. Past it: refused, whenever it is processed.
        _answer_received(student, attempt, q1, "A", attempt.deadline_at + timedelta(seconds=1.9))
        _raises(
            TimeUp,
            410,
            "time_up",
            _answer_received,
            user=student,
            attempt=attempt,
            question=q2,
            option="A",
            received_at=attempt.deadline_at + timedelta(seconds=2.1),
        )

    assert list(Answer.objects.filter(attempt=attempt).values_list("question_id", flat=True)) == [q1.pk]
    attempt.refresh_from_db()
    assert (attempt.status, attempt.score) == (AttemptStatus.TIMEOUT, 1)


def test_a_late_resend_of_an_answer_stored_in_time_is_acknowledged_unchanged(student, exam):
    """A dropped socket loses the reply, not the answer: its resend after the deadline is no refusal."""
    attempt = set_deadline(_start(student, exam), seconds_from_now=-5)
    q1, q2, _ = _questions(exam)
    stored = _answer_received(student, attempt, q1, "A", attempt.deadline_at - timedelta(seconds=1))
    services.expire_attempts(attempt_ids=[attempt.pk], path=ExpiryPath.SWEEPER)

    again = _answer_received(student, attempt, q1, "A", clock.now())
    assert (again.pk, again.selected_option, again.saved_at) == (stored.pk, "A", stored.saved_at)
    # A different choice after the deadline is still refused, and changes nothing.
    _raises(
        TimeUp,
        410,
        "time_up",
        _answer_received,
        user=student,
        attempt=attempt,
        question=q1,
        option="B",
        received_at=clock.now(),
    )
    _raises(
        TimeUp,
        410,
        "time_up",
        _answer_received,
        user=student,
        attempt=attempt,
        question=q2,
        option="A",
        received_at=clock.now(),
    )
    assert list(Answer.objects.filter(attempt=attempt).values_list("question_id", "selected_option")) == [(q1.pk, "A")]
    assert AttemptEvent.objects.filter(attempt=attempt, kind=EventKind.ANSWER_SAVED).count() == 1


def test_an_answer_received_late_to_an_ongoing_attempt_is_refused_and_times_it_out(student, exam):
    attempt = _start(student, exam)
    question = _questions(exam)[0]
    # Still ongoing in the database, but the answer came after the deadline.
    _raises(
        TimeUp,
        410,
        "time_up",
        _answer_received,
        user=student,
        attempt=attempt,
        question=question,
        option="A",
        received_at=attempt.deadline_at + timedelta(milliseconds=1),
    )
    assert not Answer.objects.exists()
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.ONGOING  # the deadline itself has not passed yet


def test_an_answer_received_before_the_submit_is_stored_and_scored(student, exam):
    attempt = _start(student, exam)
    q1, q2, q3 = _questions(exam)
    received_at = clock.now()
    result = builders.result(services.submit_attempt(user=student, attempt_id=attempt.pk))
    assert result["score"] == 0

    _answer_received(student, attempt, q1, "A", received_at)
    # One received after the submit is refused, as before.
    _raises(Conflict, 409, "attempt_completed", _answer, user=student, attempt=attempt, question=q2)

    attempt.refresh_from_db()
    assert (attempt.status, attempt.score) == (AttemptStatus.COMPLETED, 1)
    assert builders.result(services.submit_attempt(user=student, attempt_id=attempt.pk))["score"] == 1
    assert list(Answer.objects.filter(attempt=attempt).values_list("question_id", flat=True)) == [q1.pk]


def test_the_answer_received_last_stands_whatever_the_order_processed(student, exam):
    attempt = _start(student, exam)
    question = _questions(exam)[0]
    earlier = clock.now()
    later = earlier + timedelta(milliseconds=50)

    _answer_received(student, attempt, question, "B", later)
    kept = _answer_received(student, attempt, question, "A", earlier)

    assert (kept.selected_option, kept.saved_at) == ("B", later)
    stored = Answer.objects.get(attempt=attempt, question=question)
    assert (stored.selected_option, stored.saved_at) == ("B", later)
    assert event_kinds(attempt) == [EventKind.STARTED, EventKind.ANSWER_SAVED]


# --- Submit ---------------------------------------------------------------------------


def test_submit_scores_and_is_idempotent(student, make_exam, clean_redis, on_commit):
    exam = make_exam(questions=4, review_when="at_once")
    q1, q2, q3, _ = _questions(exam)
    Question.objects.filter(pk=q2.pk).update(points=3)
    attempt = _start(student, exam)
    _answer(student, attempt, q1, "A")  # right, 1 point
    _answer(student, attempt, q2, "A")  # right, 3 points
    _answer(student, attempt, q3, "B")  # wrong

    with on_commit():
        result = builders.result(services.submit_attempt(user=student, attempt_id=attempt.pk))
    again = builders.result(services.submit_attempt(user=student, attempt_id=attempt.pk))

    assert result == again
    assert result["status"] == AttemptStatus.COMPLETED
    assert (result["score"], result["max_score"]) == (4, 6)
    assert result["percentage"] == 66.67
    assert (result["answered"], result["total_questions"]) == (3, 4)
    by_question = {row["question_id"]: row for row in result["results"]}
    assert by_question[q2.pk] == {
        "question_id": q2.pk,
        "selected_option": "A",
        "points": 3,
        "correct_option": "A",
        "is_correct": True,
    }
    assert by_question[q3.pk]["is_correct"] is False
    attempt.refresh_from_db()
    assert (attempt.status, attempt.score, attempt.max_score) == (AttemptStatus.COMPLETED, 4, 6)
    assert attempt.ended_at is not None
    assert event_kinds(attempt).count(EventKind.SUBMITTED) == 1
    # Ending the attempt drops its clock from Redis.
    assert not clean_redis.exists(timers.timer_key(attempt.pk))
    assert clean_redis.zscore(timers.DEADLINES_KEY, str(attempt.pk)) is None


def test_submit_after_the_deadline_is_a_timeout_scored_on_answers_in_time(student, exam):
    q1, q2, _ = _questions(exam)
    attempt = _start(student, exam)
    _answer(student, attempt, q1, "A")
    set_deadline(attempt, seconds_from_now=-2)
    with pytest.raises(TimeUp):
        _answer(student, attempt, q2, "A")

    result = builders.result(services.submit_attempt(user=student, attempt_id=attempt.pk))

    assert result["status"] == AttemptStatus.TIMEOUT
    assert (result["score"], result["max_score"], result["answered"]) == (1, 3, 1)
    kinds = event_kinds(attempt)
    assert kinds.count(EventKind.TIMED_OUT) == 1 and EventKind.SUBMITTED not in kinds


def test_submit_someone_elses_attempt_is_403(student, make_user, exam):
    attempt = _start(student, exam)
    _raises(Forbidden, 403, "not_owner", services.submit_attempt, user=make_user(), attempt_id=attempt.pk)
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.ONGOING


def test_the_students_sheet_hides_the_correct_option_while_ongoing(student, make_exam):
    attempt = _start(student, make_exam(review_when="at_once"))
    assert all(
        "correct_option" not in row for row in builders.questions(services.student_sheet(attempt=attempt))["questions"]
    )
    services.submit_attempt(user=student, attempt_id=attempt.pk)
    attempt.refresh_from_db()
    rows = builders.questions(services.student_sheet(attempt=attempt))["questions"]
    assert all(row["correct_option"] == "A" for row in rows)


# --- Proctors: extend and force submit ------------------------------------------------


def test_extend_moves_the_deadline_everywhere(student, proctor, exam, clean_redis, on_commit):
    attempt = set_deadline(_start(student, exam), seconds_from_now=10)
    old_deadline = attempt.deadline_at

    with on_commit():
        extended = services.extend_attempt(attempt_id=attempt.pk, seconds=30, by=proctor)

    assert extended.deadline_at == old_deadline + timedelta(seconds=30)
    assert extended.extra_seconds == 30
    fresh = Attempt.objects.get(pk=attempt.pk)
    assert fresh.deadline_at == extended.deadline_at
    new_ms = clock.to_ms(fresh.deadline_at)
    assert 40_000 - SLACK_MS < clean_redis.pttl(timers.timer_key(attempt.pk)) <= 40_000 + 1
    assert int(clean_redis.get(timers.timer_key(attempt.pk))) == new_ms
    assert clean_redis.zscore(timers.DEADLINES_KEY, str(attempt.pk)) == new_ms
    event = AttemptEvent.objects.get(attempt=attempt, kind=EventKind.EXTENDED)
    assert event.detail == {"seconds": 30, "by": proctor.username}


def test_extend_adds_up(student, proctor, exam):
    attempt = _start(student, exam)
    services.extend_attempt(attempt_id=attempt.pk, seconds=5, by=proctor)
    extended = services.extend_attempt(attempt_id=attempt.pk, seconds=7, by=proctor)
    assert extended.extra_seconds == 12
    assert extended.deadline_at == attempt.deadline_at + timedelta(seconds=12)


def test_extend_is_for_staff_only(student, exam):
    attempt = _start(student, exam)
    _raises(Forbidden, 403, "not_staff", services.extend_attempt, attempt_id=attempt.pk, seconds=30, by=student)
    assert Attempt.objects.get(pk=attempt.pk).deadline_at == attempt.deadline_at


@pytest.mark.parametrize("seconds", [0, -5, True, 1.5, "10", MAX_EXTEND_SECONDS + 1])
def test_extend_rejects_bad_seconds(student, proctor, exam, seconds):
    attempt = _start(student, exam)
    _raises(
        ServiceError,
        400,
        "invalid",
        services.extend_attempt,
        attempt_id=attempt.pk,
        seconds=seconds,
        by=proctor,
    )
    assert Attempt.objects.get(pk=attempt.pk).deadline_at == attempt.deadline_at


def test_extend_an_ended_attempt_is_409(student, proctor, exam):
    attempt = _start(student, exam)
    services.submit_attempt(user=student, attempt_id=attempt.pk)
    _raises(Conflict, 409, "attempt_ended", services.extend_attempt, attempt_id=attempt.pk, seconds=30, by=proctor)


def test_extend_past_the_deadline_is_409(student, proctor, exam):
    attempt = set_deadline(_start(student, exam), seconds_from_now=-1)
    _raises(Conflict, 409, "attempt_ended", services.extend_attempt, attempt_id=attempt.pk, seconds=30, by=proctor)
    assert Attempt.objects.get(pk=attempt.pk).deadline_at == attempt.deadline_at
    assert not AttemptEvent.objects.filter(kind=EventKind.EXTENDED).exists()


def test_extend_checks_the_exam(student, proctor, exam, make_exam):
    attempt = _start(student, exam)
    other = make_exam()
    _raises(
        ServiceError,
        400,
        "attempt_not_in_exam",
        services.extend_attempt,
        attempt_id=attempt.pk,
        seconds=5,
        by=proctor,
        exam_id=other.pk,
    )
    _raises(NotFound, 404, "not_found", services.extend_attempt, attempt_id=999_999, seconds=5, by=proctor)


def test_force_submit(student, proctor, exam, clean_redis, on_commit):
    attempt = _start(student, exam)
    _answer(student, attempt, _questions(exam)[0], "A")

    with on_commit():
        result = builders.result(services.force_submit_attempt(attempt_id=attempt.pk, by=proctor))

    assert result["status"] == AttemptStatus.COMPLETED
    assert (result["score"], result["max_score"]) == (1, 3)
    event = AttemptEvent.objects.get(attempt=attempt, kind=EventKind.FORCE_SUBMITTED)
    assert event.detail == {"by": proctor.username}
    assert not clean_redis.exists(timers.timer_key(attempt.pk))
    assert result["results"][0]["is_correct"] is True  # a proctor sees everything
    # The student's own submit afterwards returns the same result as far as the review policy shows it, adding nothing.
    own = builders.result(services.submit_attempt(user=student, attempt_id=attempt.pk))
    assert {k: v for k, v in own.items() if k not in ("results", "review")} == {
        k: v for k, v in result.items() if k not in ("results", "review")
    }
    assert own["review"]["shows"] == "score"
    assert not AttemptEvent.objects.filter(attempt=attempt, kind=EventKind.SUBMITTED).exists()


def test_force_submit_is_for_staff_only(student, exam):
    attempt = _start(student, exam)
    _raises(Forbidden, 403, "not_staff", services.force_submit_attempt, attempt_id=attempt.pk, by=student)
    assert Attempt.objects.get(pk=attempt.pk).status == AttemptStatus.ONGOING


# --- Expiry ---------------------------------------------------------------------------


def test_expire_attempts_flips_only_due_ones(make_user, exam, clean_redis, on_commit):
    due = [_start(make_user(), exam) for _ in range(3)]
    _answer(due[0].user, due[0], _questions(exam)[0], "A")
    due = [set_deadline(attempt, seconds_from_now=-1.5) for attempt in due]
    live = _start(make_user(), exam)
    ids = [a.pk for a in due] + [live.pk]

    with on_commit():
        ended = services.expire_attempts(attempt_ids=ids, path=ExpiryPath.SWEEPER)

    assert sorted(a.pk for a in ended) == sorted(a.pk for a in due)
    for attempt in due:
        attempt.refresh_from_db()
        assert attempt.status == AttemptStatus.TIMEOUT and attempt.ended_at is not None
        event = AttemptEvent.objects.get(attempt=attempt, kind=EventKind.TIMED_OUT)
        assert event.path == ExpiryPath.SWEEPER
        # Committed about 1.5 s after the deadline; generous on a busy machine.
        assert 1500 <= event.lateness_ms < 30_000
        assert not clean_redis.exists(timers.timer_key(attempt.pk))
    assert Attempt.objects.get(pk=due[0].pk).score == 1
    assert Attempt.objects.get(pk=live.pk).status == AttemptStatus.ONGOING
    assert clean_redis.exists(timers.timer_key(live.pk))
    # A second pass finds nothing left to do.
    assert services.expire_attempts(attempt_ids=ids, path=ExpiryPath.RECONCILER) == []
    assert AttemptEvent.objects.filter(kind=EventKind.TIMED_OUT).count() == 3


def test_expire_leaves_submitted_attempts_alone(student, exam):
    attempt = _start(student, exam)
    services.submit_attempt(user=student, attempt_id=attempt.pk)
    set_deadline(attempt, seconds_from_now=-5)
    assert services.expire_attempts(attempt_ids=[attempt.pk], path=ExpiryPath.KEYSPACE) == []
    assert Attempt.objects.get(pk=attempt.pk).status == AttemptStatus.COMPLETED
    assert services.expire_attempts(attempt_ids=[], path=ExpiryPath.KEYSPACE) == []


def test_current_attempt_times_out_on_access(student, exam):
    attempt = _start(student, exam)
    assert services.current_attempt(user=student, attempt_id=attempt.pk).status == AttemptStatus.ONGOING
    set_deadline(attempt, seconds_from_now=-1)

    current = services.current_attempt(user=student, attempt_id=attempt.pk)

    assert current.status == AttemptStatus.TIMEOUT
    event = AttemptEvent.objects.get(attempt=attempt, kind=EventKind.TIMED_OUT)
    assert event.path == ExpiryPath.ON_ACCESS and event.lateness_ms >= 1000


def test_current_attempt_of_someone_else_is_403(student, make_user, exam):
    attempt = _start(student, exam)
    _raises(Forbidden, 403, "not_owner", services.current_attempt, user=make_user(), attempt_id=attempt.pk)


# --- The answer grace -----------------------------------------------------------------


def test_grace_accepts_answers_just_after_the_deadline(student, exam, clean_redis):
    with override_settings(EXAM=exam_settings(ANSWER_GRACE_SECONDS=5.0)):
        attempt = set_deadline(_start(student, exam), seconds_from_now=-1)
        question = _questions(exam)[0]

        assert _answer(student, attempt, question, "A").selected_option == "A"
        assert services.current_attempt(user=student, attempt_id=attempt.pk).status == AttemptStatus.ONGOING
        assert services.expire_attempts(attempt_ids=[attempt.pk], path=ExpiryPath.SWEEPER) == []

        # Past deadline + grace the usual rules apply.
        set_deadline(attempt, seconds_from_now=-6)
        with pytest.raises(TimeUp):
            _answer(student, attempt, question, "B")
        attempt.refresh_from_db()
        assert attempt.status == AttemptStatus.TIMEOUT and attempt.score == 1


def test_grace_counts_in_the_timer_ttl(student, exam, clean_redis):
    with override_settings(EXAM=exam_settings(ANSWER_GRACE_SECONDS=5.0)):
        attempt = _start(student, exam)
    assert 65_000 - SLACK_MS < clean_redis.pttl(timers.timer_key(attempt.pk)) <= 65_000 + 1
    assert clean_redis.zscore(timers.DEADLINES_KEY, str(attempt.pk)) == clock.to_ms(attempt.deadline_at)


# --- Clearing a choice (issue 12: "clear my choice") ----------------------------------------


def test_clearing_an_answer_keeps_a_cleared_row_that_does_not_count(student, make_exam):
    exam = make_exam(questions=3, review_when="at_once")
    q1, q2, _ = _questions(exam)
    attempt = _start(student, exam)
    _answer(student, attempt, q1, "A")  # right
    _answer(student, attempt, q2, "A")  # right
    cleared = _answer(student, attempt, q1, None)

    assert builders.answer_saved(cleared)["selected_option"] is None
    result = builders.result(services.submit_attempt(user=student, attempt_id=attempt.pk))
    assert (result["score"], result["answered"]) == (1, 1)
    by_question = {row["question_id"]: row for row in result["results"]}
    assert by_question[q1.pk]["selected_option"] is None
    assert by_question[q1.pk]["is_correct"] is False
    assert [e.detail for e in AttemptEvent.objects.filter(attempt=attempt, kind=EventKind.ANSWER_SAVED)][-1] == {
        "question_id": q1.pk,
        "selected_option": "",
    }


def test_an_older_choice_processed_after_the_clearing_does_not_come_back(student, exam):
    attempt = _start(student, exam)
    question = _questions(exam)[0]
    earlier = clock.now()
    _answer_received(student, attempt, question, None, earlier + timedelta(milliseconds=50))
    kept = _answer_received(student, attempt, question, "A", earlier)
    assert kept.selected_option == ""
    assert Answer.objects.get(attempt=attempt, question=question).selected_option == ""


def test_clearing_after_the_deadline_is_410_and_keeps_the_answer(student, exam):
    attempt = _start(student, exam)
    question = _questions(exam)[0]
    _answer(student, attempt, question, "B")
    set_deadline(attempt, seconds_from_now=-10)
    _raises(TimeUp, 410, "time_up", _answer, user=student, attempt=attempt, question=question, option=None)
    assert Answer.objects.get(attempt=attempt, question=question).selected_option == "B"


def test_a_late_resend_of_a_clearing_stored_in_time_is_acknowledged(student, exam):
    attempt = _start(student, exam)
    question = _questions(exam)[0]
    _answer(student, attempt, question, "B")
    _answer(student, attempt, question, None)
    set_deadline(attempt, seconds_from_now=-10)
    assert _answer(student, attempt, question, None).selected_option == ""


# --- Who ended an attempt (issue 12: a forced submission says so) -----------------------------


def test_the_result_and_the_exam_list_say_who_ended_the_attempt(student, make_user, make_exam):
    proctor = make_user(staff=True)
    exam = make_exam(questions=2, max_attempts=3)
    first = _start(student, exam)
    assert builders.result(services.submit_attempt(user=student, attempt_id=first.pk))["ended_by"] == "student"
    second = _start(student, exam)
    services.force_submit_attempt(attempt_id=second.pk, by=proctor)
    assert builders.result(services.submit_attempt(user=student, attempt_id=second.pk))["ended_by"] == "proctor"
    third = _start(student, exam)
    set_deadline(third, seconds_from_now=-10)
    assert builders.result(services.submit_attempt(user=student, attempt_id=third.pk))["ended_by"] == "time"

    [listing] = builders.student_exams(services.student_exams(user=student))["exams"]
    assert [a["ended_by"] for a in listing["attempts"]] == ["student", "proctor", "time"]
