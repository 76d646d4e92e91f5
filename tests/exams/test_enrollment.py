"""Enrollment (exams/enrollment.py): who an exam expects, over REST, CSV and the command line."""

import io

import pytest
from django.core.management import CommandError, call_command

from exams.models import Enrollment

pytestmark = pytest.mark.django_db


def enroll_path(exam_id: int, tail: str = "") -> str:
    return f"/api/proctor/exams/{exam_id}/enrollments/{tail}"


def test_an_exam_without_enrollments_is_open_to_every_student(exam, student, client_for):
    assert [e["id"] for e in client_for(student).get("/api/exams/").json()["exams"]] == [exam.pk]
    assert client_for(student).post(f"/api/exam/timer/start/{exam.pk}/").status_code == 201


def test_enrolled_students_only_once_an_exam_has_enrollments(exam, make_user, proctor, client_for):
    enrolled, outsider = make_user(), make_user()
    reply = client_for(proctor).post(enroll_path(exam.pk), {"usernames": [enrolled.username]}, format="json")
    assert reply.status_code == 200
    assert reply.json() == {"exam_id": exam.pk, "changed": [enrolled.username], "unchanged": [], "enrolled": 1}

    assert client_for(outsider).get("/api/exams/").json()["exams"] == []
    refused = client_for(outsider).post(f"/api/exam/timer/start/{exam.pk}/")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "not_enrolled")
    assert [e["id"] for e in client_for(enrolled).get("/api/exams/").json()["exams"]] == [exam.pk]
    assert client_for(enrolled).post(f"/api/exam/timer/start/{exam.pk}/").status_code == 201


def test_enrolling_again_changes_nothing_and_unknown_names_change_nothing_at_all(exam, make_user, proctor, client_for):
    a, b = make_user(), make_user()
    client = client_for(proctor)
    client.post(enroll_path(exam.pk), {"usernames": [a.username]}, format="json")
    again = client.post(enroll_path(exam.pk), {"usernames": [a.username, b.username, a.username]}, format="json")
    assert again.json() == {"exam_id": exam.pk, "changed": [b.username], "unchanged": [a.username], "enrolled": 2}

    unknown = client.post(enroll_path(exam.pk), {"usernames": ["nobody-here", make_user().username]}, format="json")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "unknown_users")
    assert "nobody-here" in unknown.json()["error"]["message"]
    assert Enrollment.objects.filter(exam=exam).count() == 2


def test_removing_the_last_enrollment_opens_the_exam_to_all(exam, make_user, proctor, client_for):
    a, outsider = make_user(), make_user()
    client = client_for(proctor)
    client.post(enroll_path(exam.pk), {"usernames": [a.username]}, format="json")
    removed = client.post(
        enroll_path(exam.pk, "remove/"), {"usernames": [a.username, outsider.username]}, format="json"
    )
    assert removed.json() == {
        "exam_id": exam.pk,
        "changed": [a.username],
        "unchanged": [outsider.username],
        "enrolled": 0,
    }
    assert [e["id"] for e in client_for(outsider).get("/api/exams/").json()["exams"]] == [exam.pk]


def test_csv_upload_enrolls_the_first_column_with_or_without_a_header(exam, make_user, proctor, client_for):
    a, b = make_user(), make_user()
    body = f"username,name\n{a.username},Ada\n\n {b.username} ,Bob\n"
    reply = client_for(proctor).post(enroll_path(exam.pk, "import/"), body, content_type="text/csv")
    assert reply.status_code == 200, reply.json()
    assert reply.json()["changed"] == [a.username, b.username]
    bad = client_for(proctor).post(enroll_path(exam.pk, "import/"), "ghost\n", content_type="text/csv")
    assert (bad.status_code, bad.json()["error"]["code"]) == (404, "unknown_users")
    as_json = client_for(proctor).post(enroll_path(exam.pk, "import/"), {"usernames": []}, format="json")
    assert (as_json.status_code, as_json.json()["error"]["code"]) == (415, "unsupported_media_type")


def test_a_bare_carriage_return_ends_a_csv_row(exam, make_user, proctor, client_for):
    a, b = make_user(), make_user()
    reply = client_for(proctor).post(
        enroll_path(exam.pk, "import/"), f"{a.username}\r{b.username}", content_type="text/csv"
    )
    assert reply.status_code == 200, reply.json()
    assert reply.json()["changed"] == [a.username, b.username]
    too_long = f'{a.username},"' + "x" * (200 * 1024) + '"'  # a field past the csv module's limit
    refused = client_for(proctor).post(enroll_path(exam.pk, "import/"), too_long, content_type="text/csv")
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "invalid")
    assert "Not a readable CSV" in refused.json()["error"]["message"]


def test_the_roster_says_who_has_not_started(exam, make_user, proctor, client_for):
    from exams import waiting_room
    from exams.models import CheckIn

    started, waiting, absent = make_user(username="s-a"), make_user(username="s-b"), make_user(username="s-c")
    client = client_for(proctor)
    client.post(
        enroll_path(exam.pk), {"usernames": [started.username, waiting.username, absent.username]}, format="json"
    )
    client_for(started).post(f"/api/exam/timer/start/{exam.pk}/")
    CheckIn.objects.create(exam=exam, user=waiting, arrived_at=waiting_room.clock.now())

    roster = client.get(enroll_path(exam.pk)).json()
    assert (roster["enrolled"], roster["not_started"]) == (3, 2)
    assert [(r["student"], r["state"]) for r in roster["students"]] == [
        ("s-a", "ongoing"),
        ("s-b", "waiting"),
        ("s-c", "not_started"),
    ]
    refused = client_for(started).get(enroll_path(exam.pk))
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "not_staff")


def test_the_command_imports_a_csv_file(exam, make_user, tmp_path):
    a, b = make_user(), make_user()
    path = tmp_path / "class.csv"
    path.write_text(f"username\n{a.username}\n{b.username}\n")
    out = io.StringIO()
    call_command("enroll_students", str(exam.pk), str(path), stdout=out)
    assert "2 enrolled" in out.getvalue()
    assert set(Enrollment.objects.filter(exam=exam).values_list("user__username", flat=True)) == {
        a.username,
        b.username,
    }
    path.write_text("ghost\n")
    with pytest.raises(CommandError, match="ghost"):
        call_command("enroll_students", str(exam.pk), str(path), stdout=out)
