"""The results CSV (GET /api/proctor/exams/<id>/results.csv), read through the API as a proctor's page does."""

import csv
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exams import exports, services
from exams.models import AttemptEvent

from .conftest import assert_error

# The export is an async iterator (streamed under daphne, ASGI); the test client consumes it
# synchronously, which Django allows with this warning.
pytestmark = pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators")


def results_url(exam_id: int) -> str:
    return f"/api/proctor/exams/{exam_id}/results.csv"


def read_csv(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming
    text = b"".join(response).decode()  # an async iterator, consumed as WSGI would
    return list(csv.DictReader(io.StringIO(text)))


def test_one_line_per_attempt_with_its_outcome(client_for, proctor, make_user, make_exam):
    exam, other = make_exam(), make_exam()
    alice, bob = make_user(username="alice"), make_user(username="bob")
    a = services.start_attempt(user=alice, exam_id=exam.pk).attempt
    b = services.start_attempt(user=bob, exam_id=exam.pk).attempt
    services.start_attempt(user=bob, exam_id=other.pk)
    services.extend_attempt(attempt_id=b.pk, seconds=120, by=proctor)
    services.submit_attempt(user=alice, attempt_id=a.pk)
    AttemptEvent.objects.create(attempt=b, kind="incident", at=b.started_at, detail={"note": "fire alarm"})

    rows = read_csv(client_for(proctor).get(results_url(exam.pk)))

    assert list(rows[0]) == exports.RESULT_COLUMNS
    by_name = {r["student"]: r for r in rows}
    assert len(rows) == 2
    assert by_name["alice"]["status"] == "completed"
    assert (by_name["alice"]["score"], by_name["alice"]["max_score"]) == ("0", "3")
    assert by_name["alice"]["ended_at"].endswith("Z")
    assert (by_name["bob"]["status"], by_name["bob"]["score"], by_name["bob"]["ended_at"]) == ("ongoing", "", "")
    assert (by_name["bob"]["extra_seconds"], by_name["bob"]["incidents"]) == ("120", "1")


def test_pages_keep_the_queries_bounded(client_for, proctor, make_user, make_exam, monkeypatch):
    monkeypatch.setattr(exports, "PAGE_SIZE", 4)
    exam = make_exam()
    for _ in range(10):
        services.start_attempt(user=make_user(), exam_id=exam.pk)
    client = client_for(proctor)
    with CaptureQueriesContext(connection) as queries:
        rows = read_csv(client.get(results_url(exam.pk)))
    assert len(rows) == 10
    pages = [q for q in queries.captured_queries if re.search(r"FROM [`\"]exams_attempt[`\"] ", q["sql"])]
    assert len(pages) == 4  # 4, 4, 2 and the empty last one; each page's incidents are one more query


def test_students_may_not_and_unknown_exams_are_404(client_for, student, proctor, exam):
    assert_error(client_for(student).get(results_url(exam.pk)), 403, "not_staff")
    assert_error(client_for(proctor).get(results_url(999_999)), 404, "not_found")


def test_the_history_lists_the_newest_events_oldest_first(client_for, proctor, make_user, make_exam, monkeypatch):
    from exams.api import views

    exam, other = make_exam(), make_exam()
    alice, bob = make_user(username="alice"), make_user(username="bob")
    a = services.start_attempt(user=alice, exam_id=exam.pk).attempt
    services.start_attempt(user=bob, exam_id=other.pk)
    services.extend_attempt(attempt_id=a.pk, seconds=60, by=proctor)
    services.submit_attempt(user=alice, attempt_id=a.pk)

    body = client_for(proctor).get(f"/api/proctor/exams/{exam.pk}/events/").json()
    assert [(e["student"], e["kind"]) for e in body["events"]] == [
        ("alice", "started"),
        ("alice", "extended"),
        ("alice", "submitted"),
    ]
    monkeypatch.setattr(views, "HISTORY_EVENTS", 2)
    body = client_for(proctor).get(f"/api/proctor/exams/{exam.pk}/events/").json()
    assert [e["kind"] for e in body["events"]] == ["extended", "submitted"]
