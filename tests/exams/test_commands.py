"""The management commands of the contract: create_user, load_exam, seed_demo."""

import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from exams.models import Exam, Question

pytestmark = pytest.mark.django_db

User = get_user_model()


def run(*args) -> list[str]:
    """Run a command; returns its output lines."""
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().splitlines()


def exam_file(tmp_path, data, name: str = "exam.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def valid_exam(**changes) -> dict:
    data = {
        "title": "Arithmetic",
        "duration_seconds": 300,
        "published": False,
        "questions": [
            {"text": "1 + 1?", "options": {"A": "2", "B": "3"}, "correct": "A", "points": 2},
            {"text": "2 * 3?", "options": {"A": "5", "B": "6", "C": "7"}, "correct": "B"},
        ],
    }
    data.update(changes)
    return data


# --- create_user ----------------------------------------------------------------------


def test_create_user_creates_a_student():
    lines = run("create_user", "alice", "--password", "s3cret")
    user = User.objects.get(username="alice")
    assert user.check_password("s3cret")
    assert not user.is_staff and user.is_active
    assert "created" in lines[-1]


def test_create_user_updates_and_makes_proctors():
    run("create_user", "bob", "--password", "old")
    lines = run("create_user", "bob", "--password", "new", "--proctor")
    assert User.objects.filter(username="bob").count() == 1
    user = User.objects.get(username="bob")
    assert user.check_password("new") and not user.check_password("old")
    assert user.is_staff
    assert "updated" in lines[-1] and "proctor" in lines[-1]


def test_create_user_needs_a_password():
    with pytest.raises(CommandError):
        run("create_user", "carol")
    assert not User.objects.filter(username="carol").exists()


# --- load_exam ------------------------------------------------------------------------


def test_load_exam_prints_the_id_last(tmp_path):
    lines = run("load_exam", exam_file(tmp_path, valid_exam()))

    exam = Exam.objects.get()
    assert lines[-1] == str(exam.pk)
    assert (exam.title, exam.duration_seconds, exam.published, exam.max_attempts) == ("Arithmetic", 300, False, 1)
    questions = list(Question.objects.filter(exam=exam))
    assert [(q.order, q.correct_option, q.points) for q in questions] == [(1, "A", 2), (2, "B", 1)]
    assert questions[1].options == {"A": "5", "B": "6", "C": "7"}


def test_load_exam_publish(tmp_path):
    lines = run("load_exam", exam_file(tmp_path, valid_exam()), "--publish")
    assert Exam.objects.get(pk=int(lines[-1])).published is True


def test_load_exam_keeps_the_files_published_flag(tmp_path):
    lines = run("load_exam", exam_file(tmp_path, valid_exam(published=True, max_attempts=2)))
    exam = Exam.objects.get(pk=int(lines[-1]))
    assert exam.published is True and exam.max_attempts == 2


def test_load_exam_takes_the_review_policy(tmp_path):
    lines = run("load_exam", exam_file(tmp_path, valid_exam(review_shows="answers", review_when="released")))
    exam = Exam.objects.get(pk=int(lines[-1]))
    assert (exam.review_shows, exam.review_when) == ("answers", "released")
    lines = run("load_exam", exam_file(tmp_path, valid_exam(), name="default.json"))
    exam = Exam.objects.get(pk=int(lines[-1]))
    assert (exam.review_shows, exam.review_when) == ("correct", "closed")  # the model's defaults


def _bad(**changes) -> dict:
    return valid_exam(**changes)


def _bad_question(index: int, **changes) -> dict:
    data = valid_exam()
    data["questions"][index] = {**data["questions"][index], **changes}
    return data


@pytest.mark.parametrize(
    "data,field",
    [
        (_bad_question(1, correct="D"), "questions[1].correct"),
        (_bad_question(1, correct=["A"]), "questions[1].correct"),
        (_bad_question(0, correct=None), "questions[0].correct"),
        (_bad_question(0, text=""), "questions[0].text"),
        (_bad_question(0, options={"A": "only one"}), "questions[0].options"),
        (_bad_question(0, options=["A", "B"]), "questions[0].options"),
        (_bad_question(0, options={"A": "2", "B": 3}), "questions[0].options.B"),
        (_bad_question(1, points=0), "questions[1].points"),
        (_bad_question(1, points=1.5), "questions[1].points"),
        (_bad(questions=[]), "questions"),
        (_bad(questions=["not an object"]), "questions[0]"),
        (_bad(title=""), "title"),
        (_bad(title=None), "title"),
        (_bad(duration_seconds=0), "duration_seconds"),
        (_bad(duration_seconds="60"), "duration_seconds"),
        (_bad(published="yes"), "published"),
        (_bad(max_attempts=0), "max_attempts"),
        (_bad(review_shows="everything"), "review_shows"),
        (_bad(review_when=["at_once"]), "review_when"),
        ([1, 2, 3], "(file)"),
    ],
)
def test_load_exam_names_the_bad_field(tmp_path, data, field):
    with pytest.raises(CommandError) as info:
        run("load_exam", exam_file(tmp_path, data))
    assert f"{field}:" in str(info.value)
    assert not Exam.objects.exists()
    assert not Question.objects.exists()


def test_load_exam_not_json(tmp_path):
    with pytest.raises(CommandError, match="not valid JSON"):
        run("load_exam", exam_file(tmp_path, "{ nope"))


def test_load_exam_missing_file(tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        run("load_exam", str(tmp_path / "missing.json"))


# --- seed_demo ------------------------------------------------------------------------


def test_seed_demo_is_idempotent():
    first = run("seed_demo")
    second = run("seed_demo")

    assert first[-1] == second[-1]
    exam = Exam.objects.get(pk=int(first[-1]))
    assert Exam.objects.count() == 1
    assert exam.published and exam.questions.count() == 5
    assert User.objects.count() == 4
    proctor = User.objects.get(username="proctor")
    assert proctor.is_staff and proctor.check_password("proctor")
    students = User.objects.filter(username__startswith="student")
    assert students.count() == 3 and not any(s.is_staff for s in students)
    assert all(s.check_password(s.username) for s in students)
    assert any("proctor" in line for line in first)
