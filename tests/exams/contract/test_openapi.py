"""The OpenAPI document says what the server does: 401 and 403 exactly on the operations that
answer them, and blank strings refused where the server refuses them.

The statuses are measured, not listed: each operation is called without credentials and as a
signed-in user who has no right to its object, and the document must name exactly the statuses
those calls got.
"""

import pytest

from exams import clock
from exams.contract import docs
from exams.models import Enrollment, Question
from exams.room_models import Announcement, StudentQuestion

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(make_exam, make_user, client_for):
    """An exam with an attempt of its owner's; `other` is another student, `owner` can start; only the
    owner is enrolled, so `other` may not start it."""
    exam = make_exam()
    owner, other = make_user(), make_user()
    attempt_id = client_for(owner).post(f"/api/exam/timer/start/{exam.pk}/").json()["attempt_id"]
    Enrollment.objects.create(exam=exam, user=owner)
    question = Question.objects.filter(exam=exam).first()
    asked = StudentQuestion.objects.create(attempt_id=attempt_id, text="Radians?", asked_at=clock.now())
    announcement = Announcement.objects.create(exam=exam, message="Q3 reads 42.", sent_at=clock.now())
    return {
        "exam": exam.pk,
        "attempt": attempt_id,
        "question": question.pk,
        "owner": owner,
        "other": other,
        "asked": asked.pk,
        "announcement": announcement.pk,
    }


def calls(world) -> dict[tuple[str, str], tuple[str, dict | None]]:
    """(method, documented path) -> (a concrete path on the world's objects, a valid body)."""
    attempt, exam = world["attempt"], world["exam"]
    return {
        ("POST", "/api/auth/login/"): ("/api/auth/login/", {"username": world["other"].username, "password": "wrong"}),
        ("POST", "/api/auth/refresh/"): ("/api/auth/refresh/", {"refresh": "not-a-token"}),
        ("GET", "/api/me/"): ("/api/me/", None),
        ("GET", "/api/exams/"): ("/api/exams/", None),
        ("POST", "/api/exam/timer/start/{exam_id}/"): (f"/api/exam/timer/start/{exam}/", None),
        ("GET", "/api/exam/timer/remaining/{attempt_id}/"): (f"/api/exam/timer/remaining/{attempt}/", None),
        ("POST", "/api/exam/timer/submit-answer/"): (
            "/api/exam/timer/submit-answer/",
            {"attempt_id": attempt, "question_id": world["question"], "selected_option": "A"},
        ),
        ("POST", "/api/exam/timer/submit/{attempt_id}/"): (f"/api/exam/timer/submit/{attempt}/", None),
        ("GET", "/api/exam/timer/questions/{attempt_id}/"): (f"/api/exam/timer/questions/{attempt}/", None),
        ("POST", "/api/exam/timer/extend/{attempt_id}/"): (f"/api/exam/timer/extend/{attempt}/", {"seconds": 60}),
        ("POST", "/api/exam/timer/force-submit/{attempt_id}/"): (f"/api/exam/timer/force-submit/{attempt}/", None),
        ("GET", "/api/proctor/exams/"): ("/api/proctor/exams/", None),
        ("GET", "/api/proctor/exams/{exam_id}/attempts/"): (f"/api/proctor/exams/{exam}/attempts/", None),
        ("POST", "/api/proctor/exams/{exam_id}/release-review/"): (f"/api/proctor/exams/{exam}/release-review/", None),
        ("POST", "/api/proctor/exams/{exam_id}/force-submit/"): (
            f"/api/proctor/exams/{exam}/force-submit/",
            {"attempt_ids": [attempt]},
        ),
        ("GET", "/api/proctor/exams/{exam_id}/room/"): (f"/api/proctor/exams/{exam}/room/", None),
        ("POST", "/api/proctor/exams/{exam_id}/room/"): (
            f"/api/proctor/exams/{exam}/room/",
            {"waiting_room": True, "starts_at": None, "start_code": ""},
        ),
        ("GET", "/api/proctor/exams/{exam_id}/at-deadline/"): (f"/api/proctor/exams/{exam}/at-deadline/", None),
        ("POST", "/api/proctor/exams/{exam_id}/at-deadline/"): (
            f"/api/proctor/exams/{exam}/at-deadline/",
            {"at_deadline": "hand_in", "hand_in_seconds": 60},
        ),
        ("POST", "/api/proctor/exams/{exam_id}/start-now/"): (f"/api/proctor/exams/{exam}/start-now/", None),
        ("GET", "/api/proctor/exams/{exam_id}/enrollments/"): (f"/api/proctor/exams/{exam}/enrollments/", None),
        ("POST", "/api/proctor/exams/{exam_id}/enrollments/"): (
            f"/api/proctor/exams/{exam}/enrollments/",
            {"usernames": [world["owner"].username]},
        ),
        ("POST", "/api/proctor/exams/{exam_id}/enrollments/remove/"): (
            f"/api/proctor/exams/{exam}/enrollments/remove/",
            {"usernames": [world["owner"].username]},
        ),
        ("POST", "/api/proctor/exams/{exam_id}/enrollments/import/"): (
            f"/api/proctor/exams/{exam}/enrollments/import/",
            None,
        ),
        ("GET", "/api/proctor/exams/{exam_id}/results.csv"): (f"/api/proctor/exams/{exam}/results.csv", None),
        ("GET", "/api/proctor/exams/{exam_id}/events/"): (f"/api/proctor/exams/{exam}/events/", None),
        ("POST", "/api/proctor/exams/{exam_id}/pause/"): (f"/api/proctor/exams/{exam}/pause/", {"category": "other"}),
        ("POST", "/api/proctor/exams/{exam_id}/resume/"): (f"/api/proctor/exams/{exam}/resume/", {}),
        ("POST", "/api/proctor/exams/{exam_id}/time/"): (
            f"/api/proctor/exams/{exam}/time/",
            {"unit": "minutes", "amount": 1},
        ),
        ("POST", "/api/proctor/attempts/{attempt_id}/reopen/"): (
            f"/api/proctor/attempts/{attempt}/reopen/",
            {"minutes": 1, "reason": "x"},
        ),
        ("GET", "/api/exam/room/{attempt_id}/"): (f"/api/exam/room/{attempt}/", None),
        ("POST", "/api/exam/room/{attempt_id}/acknowledge/"): (
            f"/api/exam/room/{attempt}/acknowledge/",
            {"announcement_id": world["announcement"]},
        ),
        ("POST", "/api/exam/room/{attempt_id}/questions/"): (f"/api/exam/room/{attempt}/questions/", {"text": "Why?"}),
        ("GET", "/api/proctor/exams/{exam_id}/communications/"): (
            f"/api/proctor/exams/{exam}/communications/",
            None,
        ),
        ("POST", "/api/proctor/exams/{exam_id}/announcements/"): (
            f"/api/proctor/exams/{exam}/announcements/",
            {"message": "hi"},
        ),
        ("POST", "/api/proctor/exams/{exam_id}/questions/{question_id}/answer/"): (
            f"/api/proctor/exams/{exam}/questions/{world['asked']}/answer/",
            {"text": "Yes."},
        ),
        ("GET", "/api/proctor/exams/{exam_id}/incidents/"): (f"/api/proctor/exams/{exam}/incidents/", None),
        ("POST", "/api/proctor/exams/{exam_id}/incidents/"): (
            f"/api/proctor/exams/{exam}/incidents/",
            {"category": "other", "note": "x"},
        ),
        **time_rule_calls(world),
    }


def time_rule_calls(world) -> dict[tuple[str, str], tuple[str, dict | None]]:
    """Accommodations, close overrides (exams/time_rules.py) and the audit log (exams/audit.py): staff only."""
    exam, student = world["exam"], world["owner"].username
    rule = {"username": student, "reason": "x"}
    return {
        ("GET", "/api/proctor/accommodations/"): ("/api/proctor/accommodations/", None),
        ("POST", "/api/proctor/accommodations/"): ("/api/proctor/accommodations/", rule),
        ("PATCH", "/api/proctor/accommodations/{accommodation_id}/"): ("/api/proctor/accommodations/1/", rule),
        ("DELETE", "/api/proctor/accommodations/{accommodation_id}/"): ("/api/proctor/accommodations/1/", None),
        ("POST", "/api/proctor/accommodations/import/"): ("/api/proctor/accommodations/import/", {"csv": "a,1,0,x"}),
        ("GET", "/api/proctor/exams/{exam_id}/close-overrides/"): (f"/api/proctor/exams/{exam}/close-overrides/", None),
        ("POST", "/api/proctor/exams/{exam_id}/close-overrides/"): (
            f"/api/proctor/exams/{exam}/close-overrides/",
            {**rule, "close_at": "2030-01-01T00:00:00.000Z"},
        ),
        ("DELETE", "/api/proctor/close-overrides/{override_id}/"): ("/api/proctor/close-overrides/1/", None),
        ("GET", "/api/proctor/attempts/{attempt_id}/audit/"): (
            f"/api/proctor/attempts/{world['attempt']}/audit/",
            None,
        ),
        ("GET", "/api/proctor/attempts/{attempt_id}/audit.csv"): (
            f"/api/proctor/attempts/{world['attempt']}/audit.csv",
            None,
        ),
        ("GET", "/api/proctor/exams/{exam_id}/audit.csv"): (f"/api/proctor/exams/{exam}/audit.csv", None),
    }


def documented(status: str) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in docs.openapi()["paths"].items()
        for method, operation in operations.items()
        if status in operation["responses"]
    }


def operations() -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, ops in docs.openapi()["paths"].items() for method in ops}


def call(client, method: str, path: str, body: dict | None) -> int:
    return getattr(client, method.lower())(path, body, format="json").status_code


def test_every_operation_is_measured(world):
    assert set(calls(world)) == operations()


def test_401_is_documented_exactly_where_the_server_answers_it(world, client_for):
    # Without credentials (login: a wrong password; refresh: a bad token, both in the valid bodies above).
    answered = {op for op, (path, body) in calls(world).items() if call(client_for(), op[0], path, body) == 401}
    assert answered == operations()
    assert documented("401") == answered


def test_403_is_documented_exactly_where_the_server_answers_it(world, client_for):
    # Signed in as a student who does not own the attempt: the rights every operation checks.
    client = client_for(world["other"])
    answered = {op for op, (path, body) in calls(world).items() if call(client, op[0], path, body) == 403}
    assert answered == {
        ("POST", "/api/exam/timer/start/{exam_id}/"),
        ("GET", "/api/exam/timer/remaining/{attempt_id}/"),
        ("POST", "/api/exam/timer/submit-answer/"),
        ("POST", "/api/exam/timer/submit/{attempt_id}/"),
        ("GET", "/api/exam/timer/questions/{attempt_id}/"),
        ("POST", "/api/exam/timer/extend/{attempt_id}/"),
        ("POST", "/api/exam/timer/force-submit/{attempt_id}/"),
        ("GET", "/api/proctor/exams/"),
        ("GET", "/api/proctor/exams/{exam_id}/attempts/"),
        ("POST", "/api/proctor/exams/{exam_id}/release-review/"),
        ("POST", "/api/proctor/exams/{exam_id}/force-submit/"),
        ("GET", "/api/proctor/exams/{exam_id}/room/"),
        ("POST", "/api/proctor/exams/{exam_id}/room/"),
        ("GET", "/api/proctor/exams/{exam_id}/at-deadline/"),
        ("POST", "/api/proctor/exams/{exam_id}/at-deadline/"),
        ("POST", "/api/proctor/exams/{exam_id}/start-now/"),
        ("GET", "/api/proctor/exams/{exam_id}/enrollments/"),
        ("POST", "/api/proctor/exams/{exam_id}/enrollments/"),
        ("POST", "/api/proctor/exams/{exam_id}/enrollments/remove/"),
        ("POST", "/api/proctor/exams/{exam_id}/enrollments/import/"),
        ("GET", "/api/proctor/exams/{exam_id}/results.csv"),
        ("GET", "/api/proctor/exams/{exam_id}/events/"),
        ("POST", "/api/proctor/exams/{exam_id}/pause/"),
        ("POST", "/api/proctor/exams/{exam_id}/resume/"),
        ("POST", "/api/proctor/exams/{exam_id}/time/"),
        ("POST", "/api/proctor/attempts/{attempt_id}/reopen/"),
        ("GET", "/api/exam/room/{attempt_id}/"),
        ("POST", "/api/exam/room/{attempt_id}/acknowledge/"),
        ("POST", "/api/exam/room/{attempt_id}/questions/"),
        ("GET", "/api/proctor/exams/{exam_id}/communications/"),
        ("POST", "/api/proctor/exams/{exam_id}/announcements/"),
        ("POST", "/api/proctor/exams/{exam_id}/questions/{question_id}/answer/"),
        ("GET", "/api/proctor/exams/{exam_id}/incidents/"),
        ("POST", "/api/proctor/exams/{exam_id}/incidents/"),
        *time_rule_calls(world),
    }
    assert documented("403") == answered


@pytest.mark.parametrize(
    "component,field",
    [
        ("SubmitAnswerRequest", "selected_option"),
        ("LoginRequest", "username"),
        ("LoginRequest", "password"),
        ("RefreshRequest", "refresh"),
        ("AskRequest", "text"),
    ],
)
def test_blank_strings_are_refused_by_the_schema_as_by_the_server(component, field, world, client_for):
    schema = docs.openapi()["components"]["schemas"][component]["properties"][field]
    assert schema.get("minLength") == 1, schema
    path, body = {
        "SubmitAnswerRequest": calls(world)[("POST", "/api/exam/timer/submit-answer/")],
        "LoginRequest": calls(world)[("POST", "/api/auth/login/")],
        "RefreshRequest": calls(world)[("POST", "/api/auth/refresh/")],
        "AskRequest": calls(world)[("POST", "/api/exam/room/{attempt_id}/questions/")],
    }[component]
    response = client_for(world["owner"]).post(path, {**body, field: ""}, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid")
