"""The REST endpoints of time control: bodies checked against their declarations (client_for), the
contract's codes for bad input, staff only."""

from datetime import timedelta

import pytest

from exams import services
from exams.models import Attempt, AttemptStatus, Exam, ExamEvent, ExpiryPath

from ..conftest import assert_error, set_deadline, start_url

pytestmark = pytest.mark.django_db


def pause_url(exam_id: int) -> str:
    return f"/api/proctor/exams/{exam_id}/pause/"


def resume_url(exam_id: int) -> str:
    return f"/api/proctor/exams/{exam_id}/resume/"


def time_url(exam_id: int) -> str:
    return f"/api/proctor/exams/{exam_id}/time/"


def reopen_url(attempt_id: int) -> str:
    return f"/api/proctor/attempts/{attempt_id}/reopen/"


def test_pause_and_resume_the_whole_exam_over_rest(client_for, student, make_user, proctor, exam):
    attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt
    api = client_for(proctor)

    paused = api.post(pause_url(exam.pk), {"category": "environment", "note": "Fire alarm"}, format="json")
    assert paused.status_code == 200, paused.content
    assert paused.json()["attempt_ids"] == [attempt.pk] and paused.json()["exam_paused_at"]

    # The student sees it: answers refused, no new start, the clock says paused.
    mine = client_for(student)
    question = exam.questions.first()
    refused = mine.post(
        "/api/exam/timer/submit-answer/",
        {"attempt_id": attempt.pk, "question_id": question.pk, "selected_option": "A"},
        format="json",
    )
    assert_error(refused, 409, "attempt_paused")
    assert "paused_at" in mine.get(f"/api/exam/timer/remaining/{attempt.pk}/").json()
    assert client_for(make_user()).post(start_url(exam.pk)).json()["paused_at"]  # a start comes out paused
    assert mine.get("/api/exams/").json()["exams"][0]["paused_at"] == paused.json()["exam_paused_at"]

    resumed = api.post(resume_url(exam.pk), {}, format="json")
    assert resumed.status_code == 200 and resumed.json()["exam_paused_at"] is None
    assert not Attempt.objects.get(pk=attempt.pk).is_paused


def test_time_change_and_reopen_over_rest(client_for, student, proctor, exam):
    attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt
    api = client_for(proctor)

    changed = api.post(time_url(exam.pk), {"unit": "percent", "amount": 50, "reason": "typo in Q3"}, format="json")
    assert changed.status_code == 200 and changed.json()["changed"] == 1
    assert Attempt.objects.get(pk=attempt.pk).extra_seconds == 30

    assert_error(api.post(time_url(exam.pk), {"unit": "minutes", "amount": -1}, format="json"), 409, "too_short")
    assert_error(api.post(time_url(exam.pk), {"unit": "hours", "amount": 1}, format="json"), 400, "invalid")
    assert_error(api.post(time_url(exam.pk), {}, format="json"), 400, "invalid")

    services.submit_attempt(user=student, attempt_id=attempt.pk)
    reopened = api.post(reopen_url(attempt.pk), {"minutes": 5, "reason": "machine died"}, format="json")
    assert reopened.status_code == 200 and reopened.json()["status"] == "ongoing"
    assert_error(api.post(reopen_url(attempt.pk), {"minutes": 5, "reason": "x"}, format="json"), 409, "not_reopenable")


def test_only_proctors_and_valid_bodies(client_for, student, proctor, exam):
    mine = client_for(student)
    assert_error(mine.post(pause_url(exam.pk), {"category": "other"}, format="json"), 403, "not_staff")
    api = client_for(proctor)
    assert_error(api.post(pause_url(exam.pk), {"category": "fire"}, format="json"), 400, "invalid")
    assert_error(api.post(pause_url(exam.pk), {"category": "other", "attempt_ids": []}, format="json"), 400, "invalid")
    assert_error(api.post(pause_url(999999), {"category": "other"}, format="json"), 404, "not_found")
    assert_error(api.post(resume_url(exam.pk), {}, format="json"), 409, "not_paused")


def at_deadline_url(exam_id: int) -> str:
    return f"/api/proctor/exams/{exam_id}/at-deadline/"


def test_staff_set_what_happens_at_the_deadline_over_rest(client_for, student, proctor, exam):
    api = client_for(proctor)
    assert api.get(at_deadline_url(exam.pk)).json() == {
        "exam_id": exam.pk,
        "at_deadline": "auto_submit",
        "hand_in_seconds": 0,
    }
    attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt

    set_ = api.post(at_deadline_url(exam.pk), {"at_deadline": "hand_in", "hand_in_seconds": 90}, format="json")
    assert set_.status_code == 200 and set_.json()["hand_in_seconds"] == 90, set_.content
    event = ExamEvent.objects.get(exam=exam, kind="at_deadline_set")
    assert event.by == proctor and event.detail == {"at_deadline": "hand_in", "hand_in_seconds": 90}
    # The running attempt's deadline now opens a hand-in window.
    set_deadline(attempt, seconds_from_now=-1)
    services.expire_attempts(attempt_ids=[attempt.pk], path=ExpiryPath.ON_ACCESS, notify=False)
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.OVERDUE
    assert attempt.hand_in_until == attempt.deadline_at + timedelta(seconds=90)

    back = api.post(at_deadline_url(exam.pk), {"at_deadline": "auto_submit"}, format="json").json()
    assert (back["at_deadline"], back["hand_in_seconds"]) == ("auto_submit", 0)
    assert (Exam.objects.get(pk=exam.pk).at_deadline, Exam.objects.get(pk=exam.pk).hand_in_seconds) == (
        "auto_submit",
        0,
    )


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        # The model's constraint: hand_in needs a window (well formed, so 409 like other rules).
        ({"at_deadline": "hand_in"}, 409, "hand_in_window"),
        ({"at_deadline": "hand_in", "hand_in_seconds": 0}, 409, "hand_in_window"),
        ({"at_deadline": "auto_submit", "hand_in_seconds": 30}, 409, "hand_in_window"),
        ({"at_deadline": "hand_in", "hand_in_seconds": 3601}, 400, "invalid"),
        ({"at_deadline": "hand_in", "hand_in_seconds": -5}, 400, "invalid"),
        ({"at_deadline": "hand_in", "hand_in_seconds": "soon"}, 400, "invalid"),
        ({"at_deadline": "later"}, 400, "invalid"),
        ({"hand_in_seconds": 30}, 400, "invalid"),
        ([], 400, "invalid"),
    ],
)
def test_a_bad_rule_at_the_deadline_is_refused_with_its_code_and_changes_nothing(
    client_for, proctor, exam, body, status, code
):
    assert_error(client_for(proctor).post(at_deadline_url(exam.pk), body, format="json"), status, code)
    assert Exam.objects.get(pk=exam.pk).at_deadline == "auto_submit"
    assert not ExamEvent.objects.filter(exam=exam).exists()


def test_only_staff_set_the_rule_at_the_deadline(client_for, student, proctor, exam):
    body = {"at_deadline": "hand_in", "hand_in_seconds": 30}
    assert_error(client_for(student).post(at_deadline_url(exam.pk), body, format="json"), 403)
    assert_error(client_for(student).get(at_deadline_url(exam.pk)), 403)
    assert_error(client_for(proctor).post(at_deadline_url(999999), body, format="json"), 404, "not_found")
    assert Exam.objects.get(pk=exam.pk).at_deadline == "auto_submit"
