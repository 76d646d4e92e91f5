"""The audit log (exams/audit.py): an attempt's deadline explained line by line from its events, over REST and CSV."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest

from exams import audit, clock, services, time_control, time_rules
from exams.models import Attempt, AttemptEvent, EventKind, ExamEvent

from .conftest import assert_error

pytestmark = pytest.mark.django_db


def audit_url(attempt_id: int) -> str:
    return f"/api/proctor/attempts/{attempt_id}/audit/"


@pytest.fixture
def busy_attempt(student, proctor, make_exam) -> Attempt:
    """Started with an accommodation, given time, its close moved twice, a grant clamped and one moving the close."""
    closes = clock.now() + timedelta(hours=2)
    exam = make_exam(duration=3600, closes_at=closes)
    time_rules.set_accommodation(
        by=proctor,
        username=student.username,
        exam_id=exam.pk,
        multiplier=Decimal("1.5"),
        extra_seconds=300,
        reason="dyslexia",
    )
    attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt  # 95 min, close in 2 h
    services.extend_attempt(attempt_id=attempt.pk, seconds=600, by=proctor, reason="power cut")  # 105 min
    early = attempt.started_at + timedelta(minutes=100)
    time_rules.set_close_override(by=proctor, username=student.username, exam_id=exam.pk, close_at=early, reason="bus")
    services.extend_attempt(attempt_id=attempt.pk, seconds=60, by=proctor, close="keep")  # still the close
    services.extend_attempt(attempt_id=attempt.pk, seconds=120, by=proctor, close="move", reason="noise")
    time_rules.update_accommodation(
        by=proctor, accommodation_id=attempt.user.accommodations.get().pk, extra_seconds=0, apply_to_running=True
    )
    attempt.refresh_from_db()
    return attempt


def test_the_explanation_reproduces_the_deadline_line_by_line(busy_attempt, proctor):
    explanation = audit.explain(busy_attempt)
    assert explanation.consistent and explanation.deadline == busy_attempt.deadline_at
    kinds = [line.kind for line in explanation.lines]
    assert kinds == [
        EventKind.STARTED,
        EventKind.EXTENDED,
        EventKind.CLOSE_MOVED,
        EventKind.EXTENDED,
        EventKind.EXTENDED,
        EventKind.CLOSE_MOVED,
        EventKind.ACCOMMODATION_APPLIED,
    ]
    started, grant, override, clamped, _, moved, accommodation = explanation.lines
    assert "allotted 95 min = 60 min x 1.50 + 5 min (accommodation: dyslexia)" in started.text
    assert started.end == busy_attempt.started_at + timedelta(minutes=95)
    assert (grant.by, grant.reason, grant.seconds) == (proctor.username, "power cut", 600)
    # Events record instants to the millisecond, as the API shows them.
    assert override.seconds == -300
    assert clock.to_ms(override.end) == clock.to_ms(busy_attempt.started_at + timedelta(minutes=100))
    assert clamped.seconds == 0 and "the close kept" in clamped.text
    assert clock.to_ms(moved.end) == clock.to_ms(busy_attempt.started_at + timedelta(minutes=108))
    # The accommodation's 5 minutes taken away: 1.5 x 60 min + 13 min granted, before the moved close.
    assert accommodation.seconds == -300 and accommodation.end == busy_attempt.deadline_at
    assert busy_attempt.deadline_at == busy_attempt.started_at + timedelta(minutes=103)


def test_a_shortening_sent_with_close_move_leaves_the_close_where_it_was(student, proctor, make_exam):
    """`close: move` only moves a close a grant runs past; a shortening keeps it (found by hypothesis in CI)."""
    exam = make_exam(duration=1800)
    close = clock.now() + timedelta(minutes=2)
    time_rules.set_close_override(by=proctor, username=student.username, exam_id=exam.pk, close_at=close, reason="bus")
    attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt
    time_control.change_time(
        by=proctor, exam_id=exam.pk, unit="minutes", amount=-1, attempt_ids=[attempt.pk], close="move"
    )
    attempt.refresh_from_db()
    assert clock.to_ms(attempt.deadline_at) == clock.to_ms(close)
    explanation = audit.explain(attempt)
    assert explanation.consistent, [line.text for line in explanation.lines]
    assert explanation.lines[-1].text == "1 min taken" and explanation.lines[-1].seconds == 0


@pytest.mark.parametrize("stored", ["close", "before the close vocabulary"])
def test_grants_past_the_close_and_exam_resumes_are_explained_in_either_vocabulary(stored, student, proctor, make_exam):
    """Events stored as `close: move|keep`, and those stored before it (`past_close: clamp|move_close`, an
    exam resume's `move_close`), explain the same deadline."""
    exam = make_exam(duration=600, closes_at=clock.now() + timedelta(minutes=12))
    attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt
    services.extend_attempt(attempt_id=attempt.pk, seconds=300, by=proctor, close="keep")
    services.extend_attempt(attempt_id=attempt.pk, seconds=60, by=proctor, close="move")
    time_control.pause(by=proctor, exam_id=exam.pk, category="environment")
    time_control.resume(by=proctor, exam_id=exam.pk, close="move")
    if stored != "close":
        kept, moved = AttemptEvent.objects.filter(attempt=attempt, kind=EventKind.EXTENDED).order_by("id")
        for event, old in ((kept, "clamp"), (moved, "move_close")):
            event.detail = {**{k: v for k, v in event.detail.items() if k != "close"}, "past_close": old}
            event.save()
        resumed = ExamEvent.objects.get(exam=exam, kind="exam_resumed")
        # (Exact to the microsecond as since stored: the replay's precision is not what this test is about.)
        resumed.detail = {**{k: v for k, v in resumed.detail.items() if k != "close"}, "move_close": True}
        resumed.save()
    attempt.refresh_from_db()
    explanation = audit.explain(attempt)
    assert explanation.consistent, [line.text for line in explanation.lines]
    texts = [line.text for line in explanation.lines]
    assert any("5 min granted, the close kept" in t for t in texts)
    assert any(t.startswith("the exam's pause of") for t in texts)
    assert attempt.close_at > exam.closes_at + timedelta(minutes=1)  # moved by the grant, then by the pause


def test_a_reopening_that_is_a_net_shortening_still_moves_the_close_it_runs_past(student, proctor, make_exam):
    """Submitted early, reopened for less than it had left but past a close that came nearer, with close=move:
    the close moves to the new end, and the replay moves it too (found by hypothesis)."""
    exam = make_exam(duration=600, closes_at=clock.now() + timedelta(minutes=5))
    attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt
    services.submit_attempt(user=student, attempt_id=attempt.pk)
    reopened, grant = time_control.reopen(by=proctor, attempt_id=attempt.pk, minutes=6, reason="crash", close="move")
    assert grant < 0 and reopened.close_at == reopened.deadline_at > exam.closes_at
    explanation = audit.explain(reopened)
    assert explanation.consistent, [line.text for line in explanation.lines]


def test_a_change_that_wrote_no_event_shows_as_inconsistent(busy_attempt):
    Attempt.objects.filter(pk=busy_attempt.pk).update(deadline_at=busy_attempt.deadline_at + timedelta(seconds=1))
    busy_attempt.refresh_from_db()
    assert not audit.explain(busy_attempt).consistent


def test_rest_and_csv(busy_attempt, proctor, student, client_for):
    client = client_for(proctor)
    body = client.get(audit_url(busy_attempt.pk)).json()
    assert body["consistent"] is True and body["deadline"] == clock.iso(busy_attempt.deadline_at)
    assert [line["kind"] for line in body["lines"]][:2] == ["started", "extended"]
    response = client.get(f"/api/proctor/attempts/{busy_attempt.pk}/audit.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == len(body["lines"]) and rows[1]["reason"] == "power cut" and rows[0]["consistent"] == "True"
    exam_csv = client.get(f"/api/proctor/exams/{busy_attempt.exam_id}/audit.csv")
    exam_rows = list(csv.DictReader(io.StringIO(b"".join(exam_csv.streaming_content).decode())))
    assert {r["attempt_id"] for r in exam_rows} == {str(busy_attempt.pk)}
    assert_error(client_for(student).get(audit_url(busy_attempt.pk)), 403, "not_staff")
    assert_error(client.get(audit_url(999999)), 404, "not_found")


def test_the_exam_csv_reads_attempts_in_chunks(student, make_user, proctor, exam):
    ids = [services.start_attempt(user=u, exam_id=exam.pk).attempt.pk for u in (student, make_user(), make_user())]
    explained = list(audit.exam_explanations(exam.pk, chunk=2))
    assert [e.attempt.pk for e in explained] == ids
    assert all(e.consistent for e in explained)
