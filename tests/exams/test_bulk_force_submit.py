"""Bulk force submit (POST /api/proctor/exams/<id>/force-submit/): one compare-and-set for a selection."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exams import clock, services
from exams.contract.limits import MAX_BULK_ATTEMPTS
from exams.models import Answer, Attempt, AttemptStatus

from .conftest import assert_error, event_kinds, set_deadline


def bulk_url(exam_id: int) -> str:
    return f"/api/proctor/exams/{exam_id}/force-submit/"


@pytest.fixture
def start_many(make_user):
    def start(exam, n: int) -> list[Attempt]:
        return [services.start_attempt(user=make_user(), exam_id=exam.pk).attempt for _ in range(n)]

    return start


def test_ends_the_live_ones_scored_and_leaves_the_ended_alone(client_for, proctor, exam, start_many, on_commit):
    a, b, c, d = start_many(exam, 4)
    Answer.objects.create(attempt=a, question=exam.questions.first(), selected_option="A", saved_at=clock.now())
    services.submit_attempt(user=c.user, attempt_id=c.pk)
    set_deadline(d, seconds_from_now=-5)  # past its deadline: timed out, as a single force submit would

    with on_commit():
        response = client_for(proctor).post(
            bulk_url(exam.pk), {"attempt_ids": [a.pk, b.pk, c.pk, d.pk, a.pk]}, format="json"
        )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["submitted"] == [a.pk, b.pk]
    assert {r["attempt_id"]: r["status"] for r in body["attempts"]} == {
        a.pk: "completed",
        b.pk: "completed",
        c.pk: "completed",
        d.pk: "timeout",
    }
    fresh = {x.pk: x for x in Attempt.objects.filter(pk__in=[a.pk, b.pk])}
    assert (fresh[a.pk].score, fresh[a.pk].max_score) == (1, 3)
    assert event_kinds(a).count("force_submitted") == 1
    assert "force_submitted" not in event_kinds(c)


def test_a_bounded_number_of_statements_whatever_the_count(client_for, proctor, make_exam, start_many):
    counts = []
    for n in (3, 30):
        exam = make_exam()
        ids = [x.pk for x in start_many(exam, n)]
        with CaptureQueriesContext(connection) as queries:
            response = client_for(proctor).post(bulk_url(exam.pk), {"attempt_ids": ids}, format="json")
        assert response.status_code == 200
        assert len(response.json()["submitted"]) == n
        updates = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("UPDATE")]
        assert len(updates) == 1, updates  # one compare-and-set for all
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1]


def test_an_attempt_of_another_exam_refuses_the_whole_request(client_for, proctor, make_exam, start_many):
    mine, other = make_exam(), make_exam()
    (a,) = start_many(mine, 1)
    (x,) = start_many(other, 1)
    response = client_for(proctor).post(bulk_url(mine.pk), {"attempt_ids": [a.pk, x.pk]}, format="json")
    assert_error(response, 404, "not_found")
    assert set(Attempt.objects.values_list("status", flat=True)) == {AttemptStatus.ONGOING}


@pytest.mark.parametrize(
    "body", [{}, {"attempt_ids": []}, {"attempt_ids": ["x"]}, {"attempt_ids": list(range(1, MAX_BULK_ATTEMPTS + 2))}]
)
def test_bad_bodies_are_400(client_for, proctor, exam, body):
    assert_error(client_for(proctor).post(bulk_url(exam.pk), body, format="json"), 400)


def test_students_may_not(client_for, student, exam, start_many):
    (a,) = start_many(exam, 1)
    assert_error(client_for(student).post(bulk_url(exam.pk), {"attempt_ids": [a.pk]}, format="json"), 403, "not_staff")
    assert Attempt.objects.get(pk=a.pk).status == AttemptStatus.ONGOING


def test_unknown_exam_is_404(client_for, proctor):
    assert_error(client_for(proctor).post(bulk_url(999_999), {"attempt_ids": [1]}, format="json"), 404, "not_found")
