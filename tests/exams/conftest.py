"""Helpers shared by the foundation's tests: deadlines, the event log, API paths and error bodies."""

import json
import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.conf import settings
from django.db.models import F

from exams import clock
from exams.models import Attempt, AttemptEvent

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9_]*$")


def exam_settings(**changes) -> dict:
    """A copy of settings.EXAM with `changes`, for override_settings (never mutate the original)."""
    return {**settings.EXAM, **changes}


def set_deadline(attempt: Attempt, *, seconds_from_now: float) -> Attempt:
    """Move an attempt's database deadline (the truth) as if time had passed; returns it fresh.

    Its whole timeline moves (start and close too), so a later change recomputes from it the
    deadline set here (exams/deadlines.py).
    """
    attempt.refresh_from_db()
    shift = clock.now() + timedelta(seconds=seconds_from_now) - attempt.deadline_at
    Attempt.objects.filter(pk=attempt.pk).update(
        deadline_at=F("deadline_at") + shift, started_at=F("started_at") + shift, close_at=F("close_at") + shift
    )
    attempt.refresh_from_db()
    return attempt


def event_kinds(attempt: Attempt) -> list[str]:
    return list(AttemptEvent.objects.filter(attempt=attempt).values_list("kind", flat=True))


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks) -> Callable:
    """Run on-commit callbacks (timer cleanup, notifications) inside a non-transactional test."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


# --- The REST API's paths and error body ---------------------------------------------

ANSWER_URL = "/api/exam/timer/submit-answer/"


def start_url(exam_id: int) -> str:
    return f"/api/exam/timer/start/{exam_id}/"


def remaining_url(attempt_id: int) -> str:
    return f"/api/exam/timer/remaining/{attempt_id}/"


def submit_url(attempt_id: int) -> str:
    return f"/api/exam/timer/submit/{attempt_id}/"


def questions_url(attempt_id: int) -> str:
    return f"/api/exam/timer/questions/{attempt_id}/"


def extend_url(attempt_id: int) -> str:
    return f"/api/exam/timer/extend/{attempt_id}/"


def force_url(attempt_id: int) -> str:
    return f"/api/exam/timer/force-submit/{attempt_id}/"


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The contract's error body, exactly `{"error": {"code", "message"}}`, as JSON."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert SNAKE_CASE.match(body["error"]["code"])
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]
