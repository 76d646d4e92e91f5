"""The builders (exams/contract/builders.py): each one's output is its declaration, in every state
(ongoing, ended, nulls), with the values the contract promises."""

from datetime import timedelta

import pytest

from exams import clock, presence, review, selectors, services
from exams.contract import builders, frames, rest
from exams.models import Attempt, AttemptStatus, Question, ReviewShows
from tests.support.contract_check import check, check_frame

pytestmark = pytest.mark.django_db


@pytest.fixture
def attempt(student, exam) -> Attempt:
    return services.start_attempt(user=student, exam_id=exam.pk).attempt


def answer(attempt: Attempt, option: str = "A", n: int = 0):
    question = Question.objects.filter(exam_id=attempt.exam_id)[n]
    return services.save_answer(
        user=attempt.user, attempt_id=attempt.pk, question_id=question.pk, selected_option=option
    )


def ended(attempt: Attempt, status: str = AttemptStatus.COMPLETED) -> Attempt:
    if status == AttemptStatus.COMPLETED:
        services.submit_attempt(user=attempt.user, attempt_id=attempt.pk)
    else:
        Attempt.objects.filter(pk=attempt.pk).update(deadline_at=clock.now() - timedelta(seconds=1))
        services.expire_attempt(attempt_id=attempt.pk, path="on_access")
    return selectors.get_attempt(attempt.pk)


def test_timer_shapes(attempt):
    at = attempt.deadline_at - timedelta(seconds=9, milliseconds=1)
    body = builders.timer(attempt, at=at)
    check(rest.Timer, body)
    assert body["remaining_seconds"] == 10  # rounded up: never 0 early
    assert body["deadline"] == clock.iso(attempt.deadline_at) and body["server_time"] == clock.iso(at)
    check_frame("student", builders.timer_frame(attempt))
    check_frame("student", builders.tick_frame(attempt.pk, attempt.deadline_at, at))
    assert builders.tick_frame(attempt.pk, attempt.deadline_at, at) == {"type": "timer", **body}
    check(rest.Start, builders.start(attempt, created=True))
    assert builders.start(attempt, created=False)["resumed"] is True


def test_an_ended_attempt_has_no_time_left(attempt):
    done = ended(attempt)
    body = builders.timer(done, at=done.deadline_at - timedelta(seconds=30))
    assert (body["status"], body["remaining_seconds"]) == ("completed", 0)


def test_extension_shapes(attempt):
    check(rest.Extension, builders.extension(attempt, 30))
    check_frame("student", builders.extended_frame(attempt, 30))
    ack = builders.extend_ack(attempt, 30)
    check_frame("proctor", ack)
    assert (ack["action"], ack["added_seconds"]) == ("extend", 30)


def test_answer_shapes(attempt):
    saved = answer(attempt, "B")
    check(rest.AnswerSaved, builders.answer_saved(saved))
    frame = builders.answer_saved_frame(saved)
    check_frame("student", frame)
    check_frame("student", {**frame, "request_id": "r1"})  # the reply to `answer` echoes it
    assert (frame["selected_option"], frame["saved_at"]) == ("B", clock.iso(saved.saved_at))


def test_result_while_ongoing_and_as_far_as_the_review_shows(attempt):
    answer(attempt, "A", 0)
    answer(attempt, "B", 1)
    ongoing = builders.result(selectors.attempt_sheet(attempt, review.DURING_ATTEMPT))
    check(rest.Result, ongoing)
    assert all("correct_option" not in row and "is_correct" not in row for row in ongoing["results"])
    assert (ongoing["score"], ongoing["max_score"], ongoing["answered"]) == (0, 3, 2)

    # The exam's default policy, without closes_at: the score only until a proctor's release.
    sheet = services.submit_attempt(user=attempt.user, attempt_id=attempt.pk)
    body = builders.result(sheet)
    check(rest.Result, body)
    assert (body["status"], body["score"], body["max_score"], body["percentage"]) == ("completed", 1, 3, 33.33)
    assert [set(row) for row in body["results"]] == [{"question_id", "points"}] * 3
    assert body["review"] == {"shows": "score", "later": "correct", "waits_for": "release"}

    answers = builders.result(selectors.attempt_sheet(sheet.attempt, review.Review(ReviewShows.ANSWERS)))
    check(rest.Result, answers)
    assert [row["selected_option"] for row in answers["results"]] == ["A", "B", None]
    assert all("correct_option" not in row and "is_correct" not in row for row in answers["results"])

    everything = builders.result(selectors.attempt_sheet(sheet.attempt, review.EVERYTHING))
    check(rest.Result, everything)
    assert [row["is_correct"] for row in everything["results"]] == [True, False, False]
    assert [row["selected_option"] for row in everything["results"]] == ["A", "B", None]
    assert everything["review"] == {"shows": "correct"}
    ack = builders.force_submit_ack(selectors.attempt_sheet(selectors.get_attempt(attempt.pk), review.EVERYTHING))
    check_frame("proctor", ack)
    assert {k: v for k, v in ack.items() if k not in ("type", "action")} == everything


@pytest.mark.parametrize("status", [AttemptStatus.COMPLETED, AttemptStatus.TIMEOUT])
def test_the_end_frame_is_one_shape(attempt, status):
    answer(attempt)
    frame = builders.ended_frame(ended(attempt, status))
    check(frames.EndedFrame, frame)
    assert (frame["type"], frame["status"], frame["score"], frame["max_score"]) == (
        "submitted" if status == AttemptStatus.COMPLETED else "timeout",
        status,
        1,
        3,
    )


def test_questions_show_answers_and_correct_options_as_far_as_the_review_shows(attempt):
    answer(attempt, "B")
    body = builders.questions(selectors.attempt_sheet(selectors.get_attempt(attempt.pk), review.DURING_ATTEMPT))
    check(rest.Questions, body)
    assert [q["selected_option"] for q in body["questions"]] == ["B", None, None]
    assert all("correct_option" not in q for q in body["questions"])
    attempt = ended(attempt)
    body = builders.questions(selectors.attempt_sheet(attempt, review.Review(ReviewShows.SCORE)))
    check(rest.Questions, body)
    assert all("selected_option" not in q and "correct_option" not in q for q in body["questions"])
    body = builders.questions(selectors.attempt_sheet(attempt, review.EVERYTHING))
    check(rest.Questions, body)
    assert [(q["selected_option"], q["correct_option"]) for q in body["questions"]] == [
        ("B", "A"),
        (None, "A"),
        (None, "A"),
    ]


def test_exam_lists(student, make_exam):
    exam = make_exam(max_attempts=2)
    make_exam(published=False, description="", opens_at=clock.now())
    ended(services.start_attempt(user=student, exam_id=exam.pk).attempt)
    services.start_attempt(user=student, exam_id=exam.pk)
    body = builders.student_exams(selectors.exams_for_student(student))
    check(rest.StudentExams, body)
    [listed] = body["exams"]
    assert [(a["number"], a["status"]) for a in listed["attempts"]] == [(1, "completed"), (2, "ongoing")]
    assert (listed["attempts"][0]["score"], listed["attempts"][1]["score"]) == (0, None)
    body = builders.proctor_exams(selectors.exams_for_proctor())
    check(rest.ProctorExams, body)
    assert [(e["published"], e["ongoing"], e["total_questions"]) for e in body["exams"]] == [
        (True, 1, 3),
        (False, 0, 3),
    ]
    check(rest.Me, builders.me(student))


def test_proctor_rows_read_presence(attempt, make_user, exam, clean_redis):
    other = services.start_attempt(user=make_user(), exam_id=exam.pk).attempt
    answer(attempt)
    clean_redis.sadd(presence.presence_key(attempt.pk), "some-process")
    rows = builders.proctor_rows(selectors.proctor_attempts(exam_id=exam.pk))
    check(rest.ExamRoom, builders.exam_room(exam.pk, rows))
    check_frame("proctor", builders.snapshot_frame(exam.pk, rows))
    assert [(r["attempt_id"], r["connected"], r["answered"]) for r in rows] == [
        (attempt.pk, True, 1),
        (other.pk, False, 0),
    ]
    assert rows[0]["student"] == attempt.user.get_username()
    for kind in frames.ATTEMPT_EVENTS:
        check_frame("proctor", builders.attempt_event(kind, rows[0]))
    # Ended: no longer shown connected, whatever presence says; its score and end are set.
    rows = builders.proctor_rows(selectors.proctor_attempts(attempt_ids=[ended(attempt).pk]))
    assert (rows[0]["connected"], rows[0]["score"], rows[0]["ended_at"] is not None) == (False, 1, True)
    check(rest.ProctorRow, rows[0])


def test_error_shapes():
    check(rest.Error, builders.error("time_up", "Time is up."))
    check_frame("student", builders.error_frame("invalid", "seconds: no."))
    assert builders.error_frame("invalid", "x", request_id=0)["request_id"] == 0
    assert "request_id" not in builders.error_frame("invalid", "x")
