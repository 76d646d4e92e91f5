"""The REST API against the contract: every row, every error code, the error body and time format."""

import re
from datetime import timedelta

import pytest
from rest_framework.throttling import ScopedRateThrottle
from rest_framework_simplejwt.tokens import AccessToken

from exams import clock
from exams.models import Answer, Attempt, AttemptStatus, Exam, Question

from .conftest import (
    ANSWER_URL,
    assert_error,
    extend_url,
    force_url,
    questions_url,
    remaining_url,
    set_deadline,
    start_url,
    submit_url,
)

pytestmark = pytest.mark.django_db

ISO_MS_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
START_FIELDS = {
    "attempt_id",
    "exam_id",
    "status",
    "remaining_seconds",
    "deadline",
    "server_time",
    "duration_seconds",
    "resumed",
}
TIMER_FIELDS = {"attempt_id", "status", "remaining_seconds", "deadline", "server_time"}
RESULT_FIELDS = {"attempt_id", "status", "score", "max_score", "percentage", "answered", "total_questions", "results"}


def assert_iso(*values: str) -> None:
    for value in values:
        assert ISO_MS_UTC.match(value), value


def keys_anywhere(data) -> set[str]:
    """Every dict key in a JSON document, at any depth."""
    if isinstance(data, dict):
        return set(data).union(*(keys_anywhere(v) for v in data.values()))
    if isinstance(data, list):
        return set().union(*(keys_anywhere(v) for v in data))
    return set()


def _first_question(exam) -> Question:
    return Question.objects.filter(exam=exam).first()


@pytest.fixture
def api(client_for, student):
    return client_for(student)


@pytest.fixture
def started(api, exam) -> dict:
    response = api.post(start_url(exam.pk))
    assert response.status_code == 201
    return response.json()


# --- Authentication -------------------------------------------------------------------


def test_login_and_refresh(client_for, student):
    client = client_for()
    response = client.post("/api/auth/login/", {"username": student.username, "password": "pw"}, format="json")
    assert response.status_code == 200
    tokens = response.json()
    assert {"access", "refresh"} <= set(tokens)

    me = client_for()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert me.get("/api/me/").json()["username"] == student.username

    refreshed = client.post("/api/auth/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert refreshed.status_code == 200
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['access']}")
    assert me.get("/api/me/").status_code == 200


@pytest.mark.parametrize("username,password", [("student-x", "pw"), (None, "wrong")])
def test_login_with_bad_credentials_is_401(client_for, student, username, password):
    body = {"username": username or student.username, "password": password}
    assert_error(client_for().post("/api/auth/login/", body, format="json"), 401)


def test_sign_in_takes_the_fields_as_sent(client_for, make_user):
    # simplejwt trimmed them: a password with a trailing space was checked without it, and a
    # name of spaces was a 400 "blank" where the schema (any non-empty string) promises a 401.
    user = make_user()
    user.set_password(" pw ")
    user.save()
    client = client_for()
    assert (
        client.post("/api/auth/login/", {"username": user.username, "password": " pw "}, format="json").status_code
        == 200
    )
    assert_error(client.post("/api/auth/login/", {"username": user.username, "password": "pw"}, format="json"), 401)
    assert_error(client.post("/api/auth/login/", {"username": "  ", "password": "x"}, format="json"), 401)
    assert_error(client.post("/api/auth/refresh/", {"refresh": "\x1f\x1f"}, format="json"), 401, "token_not_valid")
    assert_error(client.post("/api/auth/login/", {"username": 12, "password": "x"}, format="json"), 400, "invalid")


def test_refresh_with_a_bad_token_is_401(client_for):
    assert_error(
        client_for().post("/api/auth/refresh/", {"refresh": "not-a-token"}, format="json"), 401, "token_not_valid"
    )


def test_an_access_token_cannot_refresh(client_for, student):
    access = str(AccessToken.for_user(student))
    assert_error(client_for().post("/api/auth/refresh/", {"refresh": access}, format="json"), 401)


PROTECTED = [
    ("get", "/api/me/"),
    ("get", "/api/exams/"),
    ("post", "/api/exam/timer/start/1/"),
    ("get", "/api/exam/timer/remaining/1/"),
    ("post", ANSWER_URL),
    ("post", "/api/exam/timer/submit/1/"),
    ("get", "/api/exam/timer/questions/1/"),
    ("post", "/api/exam/timer/extend/1/"),
    ("post", "/api/exam/timer/force-submit/1/"),
    ("get", "/api/proctor/exams/"),
    ("get", "/api/proctor/exams/1/attempts/"),
]


@pytest.mark.parametrize("method,path", PROTECTED)
def test_no_token_is_401(client_for, method, path):
    assert_error(getattr(client_for(), method)(path, format="json"), 401, "not_authenticated")


@pytest.mark.parametrize("method,path", PROTECTED)
def test_bad_token_is_401(client_for, method, path):
    client = client_for()
    client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    assert_error(getattr(client, method)(path, format="json"), 401, "token_not_valid")


def test_expired_token_is_401(client_for, student, exam):
    token = AccessToken.for_user(student)
    token.set_exp(from_time=clock.now() - timedelta(hours=1))
    client = client_for()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert_error(client.post(start_url(exam.pk)), 401, "token_not_valid")
    assert not Attempt.objects.exists()


# --- Student endpoints ----------------------------------------------------------------


def test_start_new_then_resume(api, exam):
    first = api.post(start_url(exam.pk))
    assert first.status_code == 201
    body = first.json()
    assert set(body) >= START_FIELDS
    attempt = Attempt.objects.get()
    assert body["attempt_id"] == attempt.pk and body["exam_id"] == exam.pk
    assert body["status"] == "ongoing" and body["resumed"] is False
    assert body["duration_seconds"] == 60 and 59 <= body["remaining_seconds"] <= 60
    assert body["deadline"] == clock.iso(attempt.deadline_at)
    assert_iso(body["deadline"], body["server_time"])

    set_deadline(attempt, seconds_from_now=12.5)
    again = api.post(start_url(exam.pk))

    assert again.status_code == 200
    resumed = again.json()
    assert resumed["attempt_id"] == attempt.pk and resumed["resumed"] is True
    # The true remaining time of that attempt, not a fresh 60 s.
    assert 12 <= resumed["remaining_seconds"] <= 13
    assert Attempt.objects.count() == 1


def test_start_unpublished_is_400(api, make_exam):
    assert_error(api.post(start_url(make_exam(published=False).pk)), 400, "exam_not_published")


def test_start_unknown_exam_is_404(api):
    assert_error(api.post(start_url(999_999)), 404, "not_found")


def test_start_with_no_attempts_left_is_409(api, exam, started):
    api.post(submit_url(started["attempt_id"]))
    assert_error(api.post(start_url(exam.pk)), 409, "attempts_exhausted")


def test_remaining(api, started):
    response = api.get(remaining_url(started["attempt_id"]))
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= TIMER_FIELDS
    assert body["attempt_id"] == started["attempt_id"] and body["status"] == "ongoing"
    assert body["deadline"] == started["deadline"]
    assert 0 < body["remaining_seconds"] <= 60
    assert_iso(body["deadline"], body["server_time"])


def test_remaining_after_the_deadline_is_timeout_and_zero(api, started):
    set_deadline(Attempt.objects.get(pk=started["attempt_id"]), seconds_from_now=-1)
    body = api.get(remaining_url(started["attempt_id"])).json()
    assert body["status"] == "timeout" and body["remaining_seconds"] == 0


def test_submit_answer(api, exam, started):
    question = _first_question(exam)
    payload = {"attempt_id": started["attempt_id"], "question_id": question.pk, "selected_option": "B"}

    response = api.post(ANSWER_URL, payload, format="json")

    assert response.status_code == 200
    body = response.json()
    assert {"attempt_id", "question_id", "selected_option", "saved_at"} <= set(body)
    assert (body["attempt_id"], body["question_id"], body["selected_option"]) == (
        started["attempt_id"],
        question.pk,
        "B",
    )
    assert_iso(body["saved_at"])
    assert Answer.objects.get().selected_option == "B"


@pytest.mark.parametrize(
    "change,code",
    [
        ({"question_id": None}, "invalid"),
        ({"selected_option": None}, "invalid"),
        ({"attempt_id": "abc"}, "invalid"),
        ({"selected_option": "TOO-LONG-OPTION"}, "invalid"),
        ({"selected_option": ""}, "invalid"),
    ],
)
def test_submit_answer_bad_input_is_400(api, exam, started, change, code):
    payload = {"attempt_id": started["attempt_id"], "question_id": _first_question(exam).pk, "selected_option": "A"}
    payload.update(change)
    payload = {k: v for k, v in payload.items() if v is not None}
    assert_error(api.post(ANSWER_URL, payload, format="json"), 400, code)
    assert not Answer.objects.exists()


def test_submit_answer_naming_what_does_not_exist_is_404(api, make_exam, exam, started):
    # Well formed (the schema accepts it), but the option or the question is not there.
    payload = {"attempt_id": started["attempt_id"], "question_id": _first_question(exam).pk, "selected_option": "Z"}
    assert_error(api.post(ANSWER_URL, payload, format="json"), 404, "invalid_option")
    foreign = _first_question(make_exam())
    payload = {"attempt_id": started["attempt_id"], "question_id": foreign.pk, "selected_option": "A"}
    assert_error(api.post(ANSWER_URL, payload, format="json"), 404, "invalid_question")
    assert not Answer.objects.exists()


def test_submit_answer_after_the_deadline_is_410(api, exam, started):
    set_deadline(Attempt.objects.get(pk=started["attempt_id"]), seconds_from_now=-1)
    payload = {"attempt_id": started["attempt_id"], "question_id": _first_question(exam).pk, "selected_option": "A"}
    assert_error(api.post(ANSWER_URL, payload, format="json"), 410, "time_up")
    assert not Answer.objects.exists()


def test_submit_answer_to_a_completed_attempt_is_409(api, exam, started):
    api.post(submit_url(started["attempt_id"]))
    payload = {"attempt_id": started["attempt_id"], "question_id": _first_question(exam).pk, "selected_option": "A"}
    assert_error(api.post(ANSWER_URL, payload, format="json"), 409, "attempt_completed")
    assert not Answer.objects.exists()


def test_submit_answer_to_an_unknown_attempt_is_404(api, exam):
    payload = {"attempt_id": 999_999, "question_id": _first_question(exam).pk, "selected_option": "A"}
    assert_error(api.post(ANSWER_URL, payload, format="json"), 404, "not_found")


def test_submit_is_scored_and_repeatable(api, exam, started):
    question = _first_question(exam)
    api.post(
        ANSWER_URL,
        {"attempt_id": started["attempt_id"], "question_id": question.pk, "selected_option": "A"},
        format="json",
    )

    first = api.post(submit_url(started["attempt_id"]))
    second = api.post(submit_url(started["attempt_id"]))

    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    body = first.json()
    assert set(body) >= RESULT_FIELDS
    assert body["status"] == "completed"
    assert (body["score"], body["max_score"], body["answered"], body["total_questions"]) == (1, 3, 1, 3)
    assert body["percentage"] == 33.33
    # Once ended, the results show what the review policy lets the student see: by default the score only.
    assert body["review"] == {"shows": "score", "later": "correct", "waits_for": "release"}
    assert all(set(row) == {"question_id", "points"} for row in body["results"])


def test_submit_after_the_deadline_gives_the_timeout_result(api, exam, started):
    question = _first_question(exam)
    api.post(
        ANSWER_URL,
        {"attempt_id": started["attempt_id"], "question_id": question.pk, "selected_option": "A"},
        format="json",
    )
    set_deadline(Attempt.objects.get(pk=started["attempt_id"]), seconds_from_now=-1)

    body = api.post(submit_url(started["attempt_id"])).json()

    assert body["status"] == "timeout" and body["score"] == 1


def test_submit_unknown_attempt_is_404(api):
    assert_error(api.post(submit_url(999_999)), 404, "not_found")


def test_questions(api, exam, started):
    question = _first_question(exam)
    api.post(
        ANSWER_URL,
        {"attempt_id": started["attempt_id"], "question_id": question.pk, "selected_option": "B"},
        format="json",
    )

    response = api.get(questions_url(started["attempt_id"]))

    assert response.status_code == 200
    body = response.json()
    assert {"attempt_id", "status", "remaining_seconds", "deadline", "questions"} <= set(body)
    assert_iso(body["deadline"])
    assert len(body["questions"]) == 3
    row = body["questions"][0]
    assert {"id", "text", "options", "points", "selected_option"} <= set(row)
    assert (row["id"], row["options"], row["points"], row["selected_option"]) == (
        question.pk,
        {"A": "right", "B": "wrong"},
        1,
        "B",
    )
    assert body["questions"][1]["selected_option"] is None


def test_correct_options_stay_hidden_until_the_end(api, client_for, exam, started):
    attempt_id = started["attempt_id"]
    question = _first_question(exam)
    before_end = [
        started,
        api.post(start_url(exam.pk)).json(),
        api.get(remaining_url(attempt_id)).json(),
        api.post(
            ANSWER_URL, {"attempt_id": attempt_id, "question_id": question.pk, "selected_option": "A"}, format="json"
        ).json(),
        api.get(questions_url(attempt_id)).json(),
        api.get("/api/exams/").json(),
    ]
    for body in before_end:
        assert not any("correct" in key for key in keys_anywhere(body)), body

    Exam.objects.filter(pk=exam.pk).update(review_when="at_once")  # a policy that shows them once it has ended
    api.post(submit_url(attempt_id))

    after = api.get(questions_url(attempt_id)).json()
    assert [q["correct_option"] for q in after["questions"]] == ["A", "A", "A"]


def test_exam_list(api, exam, make_exam, started):
    hidden = make_exam(published=False)
    response = api.get("/api/exams/")
    assert response.status_code == 200
    exams = response.json()["exams"]
    assert [e["id"] for e in exams] == [exam.pk]
    assert exams[0]["total_questions"] == 3 and exams[0]["duration_seconds"] == 60
    assert [a["attempt_id"] for a in exams[0]["attempts"]] == [started["attempt_id"]]
    assert hidden.pk not in [e["id"] for e in exams]


def test_exam_list_times_out_an_overdue_attempt(api, exam, started):
    set_deadline(Attempt.objects.get(pk=started["attempt_id"]), seconds_from_now=-1)
    [listed] = api.get("/api/exams/").json()["exams"][0]["attempts"]
    assert listed["status"] == "timeout" and listed["remaining_seconds"] == 0
    assert Attempt.objects.get(pk=started["attempt_id"]).status == AttemptStatus.TIMEOUT


# --- Not yours ------------------------------------------------------------------------


def test_someone_elses_attempt_is_403(client_for, make_user, exam, started):
    other = client_for(make_user())
    attempt_id = started["attempt_id"]
    assert_error(other.get(remaining_url(attempt_id)), 403, "not_owner")
    assert_error(other.get(questions_url(attempt_id)), 403, "not_owner")
    assert_error(other.post(submit_url(attempt_id)), 403, "not_owner")
    payload = {"attempt_id": attempt_id, "question_id": _first_question(exam).pk, "selected_option": "A"}
    assert_error(other.post(ANSWER_URL, payload, format="json"), 403, "not_owner")
    assert Attempt.objects.get(pk=attempt_id).status == AttemptStatus.ONGOING
    assert not Answer.objects.exists()


# --- Proctor endpoints ----------------------------------------------------------------


def test_extend(client_for, proctor, started):
    attempt = set_deadline(Attempt.objects.get(pk=started["attempt_id"]), seconds_from_now=10)

    response = client_for(proctor).post(extend_url(attempt.pk), {"seconds": 30}, format="json")

    assert response.status_code == 200
    body = response.json()
    attempt.refresh_from_db()
    assert body["deadline"] == clock.iso(attempt.deadline_at)
    assert 39 <= body["remaining_seconds"] <= 40
    assert body["added_seconds"] == 30
    assert_iso(body["deadline"], body["server_time"])


def test_extend_by_a_student_is_403(api, started):
    assert_error(api.post(extend_url(started["attempt_id"]), {"seconds": 30}, format="json"), 403, "not_staff")


@pytest.mark.parametrize("body", [{"seconds": 0}, {"seconds": "abc"}, {}, {"seconds": 24 * 3600 + 1}])
def test_extend_bad_seconds_is_400(client_for, proctor, started, body):
    assert_error(client_for(proctor).post(extend_url(started["attempt_id"]), body, format="json"), 400, "invalid")


def test_extend_an_ended_attempt_is_409(api, client_for, proctor, started):
    api.post(submit_url(started["attempt_id"]))
    response = client_for(proctor).post(extend_url(started["attempt_id"]), {"seconds": 30}, format="json")
    assert_error(response, 409, "attempt_ended")


def test_extend_unknown_attempt_is_404(client_for, proctor):
    assert_error(client_for(proctor).post(extend_url(999_999), {"seconds": 30}, format="json"), 404, "not_found")


def test_force_submit(client_for, proctor, api, started):
    response = client_for(proctor).post(force_url(started["attempt_id"]))
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= RESULT_FIELDS
    assert body["status"] == "completed"
    remaining = api.get(remaining_url(started["attempt_id"])).json()
    assert (remaining["status"], remaining["remaining_seconds"]) == ("completed", 0)


def test_force_submit_by_a_student_is_403(api, started):
    assert_error(api.post(force_url(started["attempt_id"])), 403, "not_staff")
    assert Attempt.objects.get(pk=started["attempt_id"]).status == AttemptStatus.ONGOING


def test_force_submit_unknown_attempt_is_404(client_for, proctor):
    assert_error(client_for(proctor).post(force_url(999_999)), 404, "not_found")


def test_proctor_views(client_for, proctor, api, exam, started):
    staff = client_for(proctor)
    exams = staff.get("/api/proctor/exams/").json()["exams"]
    assert [(e["id"], e["ongoing"]) for e in exams] == [(exam.pk, 1)]
    snapshot = staff.get(f"/api/proctor/exams/{exam.pk}/attempts/").json()
    assert snapshot["exam_id"] == exam.pk
    row = snapshot["attempts"][0]
    assert {
        "attempt_id",
        "student",
        "status",
        "remaining_seconds",
        "deadline",
        "answered",
        "total_questions",
        "connected",
    } <= set(row)
    assert_iso(row["deadline"])
    assert_error(staff.get("/api/proctor/exams/999999/attempts/"), 404, "not_found")
    assert_error(api.get("/api/proctor/exams/"), 403, "not_staff")


# --- Protocol errors ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/nope/", "/api/exam/timer/start/abc/", "/api/exam/timer/remaining/"])
def test_unknown_api_path_is_a_json_404(client_for, student, path):
    assert_error(client_for().get(path), 404, "not_found")
    assert_error(client_for(student).post(path, {}, format="json"), 404, "not_found")


def test_unknown_site_path_is_404(client_for):
    assert client_for().get("/no-such-page/").status_code == 404


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/api/exam/timer/start/1/"),
        ("put", "/api/exam/timer/submit/1/"),
        ("delete", "/api/exam/timer/remaining/1/"),
        ("get", "/api/exam/timer/submit-answer/"),
    ],
)
def test_wrong_method_is_a_json_405(api, method, path):
    assert_error(getattr(api, method)(path), 405, "method_not_allowed")


@pytest.mark.parametrize("path", [ANSWER_URL, "/api/auth/login/", "/api/exam/timer/extend/1/"])
def test_malformed_json_is_400(client_for, proctor, path):
    response = client_for(proctor).post(path, data='{"attempt_id": 1,', content_type="application/json")
    assert_error(response, 400, "malformed_json")


@pytest.mark.parametrize("raw", ["[1, 2]", '"text"', "7", "null"])
def test_a_body_that_is_not_an_object_is_400(client_for, proctor, started, raw):
    client = client_for(proctor)
    for path in (ANSWER_URL, extend_url(started["attempt_id"]), "/api/auth/login/"):
        assert_error(client.post(path, data=raw, content_type="application/json"), 400)


def test_a_form_body_is_refused_as_json(api, started):
    response = api.post(ANSWER_URL, data="attempt_id=1", content_type="application/x-www-form-urlencoded")
    assert_error(response, 415, "unsupported_media_type")


# --- Throttling (the cache is the real Redis) -----------------------------------------


@pytest.fixture
def low_rates(monkeypatch):
    rates = {**ScopedRateThrottle.THROTTLE_RATES, "login": "3/min", "answers": "3/min"}
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", rates)


def test_login_is_throttled(client_for, student, low_rates):
    client = client_for()
    body = {"username": student.username, "password": "wrong"}
    for _ in range(3):
        assert client.post("/api/auth/login/", body, format="json").status_code == 401
    body["password"] = "pw"
    response = client.post("/api/auth/login/", body, format="json")
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0


def test_answers_are_throttled(api, exam, started, low_rates):
    questions = list(Question.objects.filter(exam=exam))
    for question in questions:
        payload = {"attempt_id": started["attempt_id"], "question_id": question.pk, "selected_option": "A"}
        assert api.post(ANSWER_URL, payload, format="json").status_code == 200
    payload = {"attempt_id": started["attempt_id"], "question_id": questions[0].pk, "selected_option": "B"}
    assert_error(api.post(ANSWER_URL, payload, format="json"), 429, "throttled")
    # The throttled answer was not stored.
    assert Answer.objects.get(question=questions[0]).selected_option == "A"


# --- API documentation ----------------------------------------------------------------


def test_openapi_schema_and_docs(client_for):
    schema = client_for().get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/exam/timer/start/{exam_id}/" in schema.content
    docs = client_for().get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


# --- Clearing a choice, and who ended an attempt (issue 12) ---------------------------------


def test_submit_answer_with_null_clears_it(api, exam, started):
    question = _first_question(exam)
    payload = {"attempt_id": started["attempt_id"], "question_id": question.pk, "selected_option": "A"}
    assert api.post(ANSWER_URL, payload, format="json").status_code == 200

    response = api.post(ANSWER_URL, {**payload, "selected_option": None}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["question_id"], body["selected_option"]) == (question.pk, None)
    assert_iso(body["saved_at"])
    questions = api.get(questions_url(started["attempt_id"])).json()["questions"]
    assert questions[0]["selected_option"] is None
    result = api.post(submit_url(started["attempt_id"])).json()
    assert (result["answered"], result["score"], result["ended_by"]) == (0, 0, "student")


def test_clearing_after_the_deadline_is_410(api, exam, started):
    question = _first_question(exam)
    payload = {"attempt_id": started["attempt_id"], "question_id": question.pk, "selected_option": "A"}
    api.post(ANSWER_URL, payload, format="json")
    set_deadline(Attempt.objects.get(pk=started["attempt_id"]), seconds_from_now=-1)
    assert_error(api.post(ANSWER_URL, {**payload, "selected_option": None}, format="json"), 410, "time_up")
    assert Answer.objects.get().selected_option == "A"


def test_a_forced_submission_says_the_proctor_ended_it(client_for, proctor, api, exam, started):
    assert client_for(proctor).post(force_url(started["attempt_id"])).json()["ended_by"] == "proctor"
    assert api.post(submit_url(started["attempt_id"])).json()["ended_by"] == "proctor"
    [listed] = api.get("/api/exams/").json()["exams"][0]["attempts"]
    assert (listed["status"], listed["ended_by"]) == ("completed", "proctor")
