"""The REST endpoints of time control: bodies checked against their declarations (client_for), the
contract's codes for bad input, staff only."""

import pytest

from exams import services
from exams.models import Attempt

from ..conftest import assert_error, start_url

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
    assert_error(client_for(make_user()).post(start_url(exam.pk)), 409, "exam_paused")
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
