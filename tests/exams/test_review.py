"""The review policy (exams/review.py) on every REST body that could carry answers or correctness.

Every body a student receives is scanned for the keys that reveal correctness; the proof that a
rule opens the review is the same scan finding them once it does.
"""

from datetime import timedelta

import pytest
from django.test import Client

from exams import clock
from exams.models import Attempt, Exam, ExamEvent, ExamEventKind, Question

from .conftest import ANSWER_URL, assert_error, extend_url, force_url, questions_url, start_url, submit_url

pytestmark = pytest.mark.django_db

CORRECTNESS = {"correct_option", "is_correct"}


def revealing(data) -> set[str]:
    """The keys telling correctness anywhere in a JSON document."""
    if isinstance(data, dict):
        return (set(data) & CORRECTNESS).union(*(revealing(v) for v in data.values()))
    if isinstance(data, list):
        return set().union(*(revealing(v) for v in data))
    return set()


def release_url(exam_id: int) -> str:
    return f"/api/proctor/exams/{exam_id}/release-review/"


class Sitting:
    """One student's REST session on one exam."""

    def __init__(self, client, exam) -> None:
        self.client, self.exam = client, exam

    def start(self) -> int:
        response = self.client.post(start_url(self.exam.pk))
        assert response.status_code == 201, response.content
        return response.json()["attempt_id"]

    def answer(self, attempt_id: int, options: str) -> None:
        """Answer the exam's questions in order with `options` ("AB": first A, then B)."""
        for question, option in zip(Question.objects.filter(exam=self.exam), options, strict=False):
            body = {"attempt_id": attempt_id, "question_id": question.pk, "selected_option": option}
            assert self.client.post(ANSWER_URL, body, format="json").status_code == 200

    def sit(self, options: str = "AB") -> int:
        """Start, answer and submit one attempt; its id."""
        attempt_id = self.start()
        self.answer(attempt_id, options)
        assert self.client.post(submit_url(attempt_id)).status_code == 200
        return attempt_id

    def bodies(self, attempt_id: int) -> list[dict]:
        """Every body the student can get about the ended attempt (submitting again is how the page reads it)."""
        return [
            self.client.post(submit_url(attempt_id)).json(),
            self.client.get(questions_url(attempt_id)).json(),
            self.client.get("/api/exams/").json(),
        ]

    def result(self, attempt_id: int) -> dict:
        return self.client.post(submit_url(attempt_id)).json()

    def sees_correct_answers(self, attempt_id: int) -> bool:
        found = set().union(*(revealing(body) for body in self.bodies(attempt_id)))
        return bool(found)


@pytest.fixture
def sitting(client_for, make_user):
    return lambda exam: Sitting(client_for(make_user()), exam)


def close_now(exam) -> None:
    Exam.objects.filter(pk=exam.pk).update(closes_at=clock.now() - timedelta(seconds=1))


# --- The holes of issue 10 §4 ------------------------------------------------------------------


def test_the_first_attempts_result_does_not_give_the_second_attempt_its_answers(make_exam, sitting):
    exam = make_exam(max_attempts=2)
    student = sitting(exam)
    first = student.sit("AB")
    assert not student.sees_correct_answers(first)
    second = student.start()
    assert not revealing(student.client.get(questions_url(second)).json())


def test_an_early_finisher_sees_no_answers_while_classmates_sit(make_exam, sitting, client_for, proctor):
    exam = make_exam(closes_at=clock.now() + timedelta(hours=1))
    early, late = sitting(exam), sitting(exam)
    finished = early.sit()
    late_attempt = late.start()
    assert not early.sees_correct_answers(finished)

    # The exam closes, but a proctor's extension keeps a classmate sitting past it.
    client_for(proctor).post(extend_url(late_attempt), {"seconds": 600}, format="json")
    close_now(exam)
    assert Attempt.objects.get(pk=late_attempt).is_ongoing
    assert not early.sees_correct_answers(finished)
    assert early.result(finished)["review"] == {"shows": "score", "later": "correct", "waits_for": "exam_closed"}

    late.client.post(submit_url(late_attempt))
    assert early.sees_correct_answers(finished)


# --- When -----------------------------------------------------------------------------------


def test_by_default_the_score_at_once_and_the_correct_answers_once_the_exam_has_closed(make_exam, sitting):
    exam = make_exam(closes_at=clock.now() + timedelta(hours=1))
    student = sitting(exam)
    attempt_id = student.sit("AB")
    result = student.result(attempt_id)
    assert (result["score"], result["max_score"]) == (1, 3)
    assert [row.get("selected_option") for row in result["results"]] == [None, None, None]
    assert result["review"] == {"shows": "score", "later": "correct", "waits_for": "exam_closed"}

    close_now(exam)
    result = student.result(attempt_id)
    assert result["review"] == {"shows": "correct"}
    assert [(r["selected_option"], r["correct_option"], r["is_correct"]) for r in result["results"]] == [
        ("A", "A", True),
        ("B", "A", False),
        (None, "A", False),
    ]
    questions = student.client.get(questions_url(attempt_id)).json()["questions"]
    assert [(q["selected_option"], q["correct_option"]) for q in questions] == [("A", "A"), ("B", "A"), (None, "A")]


def test_without_closes_at_only_a_proctors_release_opens_the_review(make_exam, sitting, client_for, proctor):
    exam = make_exam()
    student = sitting(exam)
    attempt_id = student.sit()
    assert student.result(attempt_id)["review"]["waits_for"] == "release"
    assert not student.sees_correct_answers(attempt_id)

    response = client_for(proctor).post(release_url(exam.pk))
    assert response.status_code == 200
    assert response.json()["review_policy"]["released_at"] is not None
    assert student.sees_correct_answers(attempt_id)


def test_a_release_is_staff_only_idempotent_and_logged(make_exam, client_for, student, proctor):
    exam = make_exam()
    assert_error(client_for(student).post(release_url(exam.pk)), 403, "not_staff")
    assert_error(client_for(proctor).post(release_url(999_999)), 404, "not_found")
    first = client_for(proctor).post(release_url(exam.pk)).json()["review_policy"]["released_at"]
    again = client_for(proctor).post(release_url(exam.pk)).json()["review_policy"]["released_at"]
    assert first == again
    events = list(ExamEvent.objects.filter(exam=exam))
    assert [(e.kind, e.by_id, clock.iso(e.at)) for e in events] == [(ExamEventKind.REVIEW_RELEASED, proctor.pk, first)]


def test_under_the_released_policy_closing_is_not_enough(make_exam, sitting, client_for, proctor):
    exam = make_exam(review_when="released", closes_at=clock.now() + timedelta(hours=1))
    student = sitting(exam)
    attempt_id = student.sit()
    close_now(exam)
    assert not student.sees_correct_answers(attempt_id)
    client_for(proctor).post(release_url(exam.pk))
    assert student.sees_correct_answers(attempt_id)


def test_at_once_shows_the_correct_answers_as_soon_as_the_last_attempt_ends(make_exam, sitting):
    exam = make_exam(review_when="at_once", max_attempts=2)
    student = sitting(exam)
    first = student.sit("BB")
    # Attempts left: their own answers, not the correct ones.
    result = student.result(first)
    assert result["review"] == {"shows": "answers", "later": "correct", "waits_for": "last_attempt"}
    assert [row["selected_option"] for row in result["results"]] == ["B", "B", None]
    assert not student.sees_correct_answers(first)

    second = student.start()
    assert not student.sees_correct_answers(first)  # not while the last attempt is under way either
    student.client.post(submit_url(second))
    assert student.sees_correct_answers(first) and student.sees_correct_answers(second)


def test_a_release_waits_for_the_students_last_attempt_too(make_exam, sitting, client_for, proctor):
    exam = make_exam(max_attempts=2)
    client_for(proctor).post(release_url(exam.pk))
    student = sitting(exam)
    first = student.sit()
    assert not student.sees_correct_answers(first)
    student.sit()
    assert student.sees_correct_answers(first)


def test_closing_ends_the_wait_for_attempts_left(make_exam, sitting):
    exam = make_exam(max_attempts=3, closes_at=clock.now() + timedelta(hours=1))
    student = sitting(exam)
    attempt_id = student.sit()
    close_now(exam)  # the two attempts left can't be started any more
    assert student.sees_correct_answers(attempt_id)


# --- What -------------------------------------------------------------------------------------


def test_score_only_shows_no_answers_at_all(make_exam, sitting, client_for, proctor):
    exam = make_exam(review_shows="score", review_when="at_once")
    client_for(proctor).post(release_url(exam.pk))
    student = sitting(exam)
    attempt_id = student.sit("AB")
    result = student.result(attempt_id)
    assert result["score"] == 1 and result["review"] == {"shows": "score"}
    assert all(set(row) == {"question_id", "points"} for row in result["results"])
    questions = student.client.get(questions_url(attempt_id)).json()["questions"]
    assert all("selected_option" not in q and "correct_option" not in q for q in questions)


def test_their_answers_but_never_the_correct_ones(make_exam, sitting, client_for, proctor):
    exam = make_exam(review_shows="answers", review_when="at_once")
    client_for(proctor).post(release_url(exam.pk))
    student = sitting(exam)
    attempt_id = student.sit("AB")
    assert [row["selected_option"] for row in student.result(attempt_id)["results"]] == ["A", "B", None]
    assert not student.sees_correct_answers(attempt_id)


def test_while_the_attempt_runs_its_own_answers_and_nothing_more(make_exam, sitting):
    exam = make_exam(review_when="at_once")
    student = sitting(exam)
    attempt_id = student.start()
    student.answer(attempt_id, "A")
    questions = student.client.get(questions_url(attempt_id)).json()
    assert [q["selected_option"] for q in questions["questions"]] == ["A", None, None]
    assert not revealing(questions) and not revealing(student.client.get("/api/exams/").json())


def test_proctors_see_everything(make_exam, sitting, client_for, proctor):
    exam = make_exam()
    student = sitting(exam)
    attempt_id = student.start()
    student.answer(attempt_id, "B")
    result = client_for(proctor).post(force_url(attempt_id)).json()
    assert revealing(result) == CORRECTNESS
    assert result["results"][0] == {
        "question_id": result["results"][0]["question_id"],
        "selected_option": "B",
        "points": 1,
        "correct_option": "A",
        "is_correct": False,
    }
    assert not student.sees_correct_answers(attempt_id)


def test_the_exam_summaries_state_the_policy(make_exam, client_for, student, proctor):
    exam = make_exam(review_shows="answers", review_when="released")
    expected = {"shows": "answers", "when": "released", "released_at": None}
    listed = {e["id"]: e for e in client_for(student).get("/api/exams/").json()["exams"]}
    assert listed[exam.pk]["review_policy"] == expected
    listed = {e["id"]: e for e in client_for(proctor).get("/api/proctor/exams/").json()["exams"]}
    assert listed[exam.pk]["review_policy"] == expected


def test_the_admin_releases_through_the_same_service(make_exam, make_user):
    admin = make_user(staff=True)
    admin.is_superuser = True
    admin.save()
    exam = make_exam()
    client = Client()
    client.force_login(admin)
    response = client.post("/admin/exams/exam/", {"action": "release_review", "_selected_action": [exam.pk]})
    assert response.status_code == 302
    assert Exam.objects.get(pk=exam.pk).review_released_at is not None
    assert ExamEvent.objects.get(exam=exam).by == admin
    # The exam's page shows the policy and the log, and the release time can't be edited there.
    page = client.get(f"/admin/exams/exam/{exam.pk}/change/")
    assert page.status_code == 200 and b"review_released" in page.content
    assert b'name="review_released_at"' not in page.content
