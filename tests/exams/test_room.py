"""The exam room's services over REST (issue 12 §2, §3): announcements and acknowledgements,
students' questions and answers, incidents. Real database; every body checked against its
declaration (tests/conftest.py `client_for`); on-commit notifications run against the real Redis."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exams import clock, room, services
from exams.contract.limits import (
    ANNOUNCEMENTS_PER_WINDOW,
    MAX_ANNOUNCEMENT_LENGTH,
    MAX_STUDENT_QUESTION_LENGTH,
    QUESTIONS_PER_WINDOW,
)
from exams.models import Attempt, AttemptEvent, EventKind, ExamEvent, ExamEventKind
from exams.room_models import Announcement, AnnouncementAck, Incident, StudentQuestion
from tests.exams.conftest import assert_error, event_kinds, set_deadline

pytestmark = pytest.mark.django_db


def start(user, exam) -> Attempt:
    return services.start_attempt(user=user, exam_id=exam.pk).attempt


def announce_url(exam_id: int) -> str:
    return f"/api/proctor/exams/{exam_id}/announcements/"


def room_url(attempt_id: int) -> str:
    return f"/api/exam/room/{attempt_id}/"


def incidents_url(exam_id: int) -> str:
    return f"/api/proctor/exams/{exam_id}/incidents/"


@pytest.fixture
def room_of(exam, make_user, proctor, client_for, on_commit):
    """Two students sitting the exam and their proctor's client."""
    ann, bob = make_user(username="ann"), make_user(username="bob")
    return {
        "exam": exam,
        "ann": ann,
        "bob": bob,
        "ann_attempt": start(ann, exam),
        "bob_attempt": start(bob, exam),
        "proctor": client_for(proctor),
        "proctor_user": proctor,
    }


# --- Announcements ------------------------------------------------------------------------------


def test_an_announcement_names_a_student_without_an_attempt_by_user_id(make_exam, make_user, proctor, client_for):
    """Before the start (the waiting room) a student has no attempt: an enrolled or checked-in student is
    named by user id; anyone else, or both ways at once, is refused."""
    from exams.models import CheckIn, Enrollment

    exam = make_exam(waiting_room=True)
    enrolled, waiting, stranger = make_user(), make_user(), make_user()
    Enrollment.objects.create(exam=exam, user=enrolled)
    CheckIn.objects.create(exam=exam, user=waiting, arrived_at=clock.now())
    desk = client_for(proctor)
    for user in (enrolled, waiting):
        sent = desk.post(announce_url(exam.pk), {"message": "Hi.", "user_id": user.pk}, format="json")
        assert sent.status_code == 201 and sent.data["to"] == "student" and sent.data["recipients"] == 1
        assert Announcement.objects.get(pk=sent.data["id"]).recipient_id == user.pk
    assert_error(
        desk.post(announce_url(exam.pk), {"message": "Hi.", "user_id": stranger.pk}, format="json"), 404, "not_found"
    )
    started = start(enrolled, make_exam())
    both = desk.post(
        announce_url(exam.pk), {"message": "x", "user_id": enrolled.pk, "attempt_id": started.pk}, format="json"
    )
    assert_error(both, 400, "invalid")
    assert Announcement.objects.count() == 2


def test_an_announcement_to_the_exam_reaches_every_student_and_one_to_a_student_only_them(room_of, client_for):
    r = room_of
    everyone = r["proctor"].post(announce_url(r["exam"].pk), {"message": "Q3: option C reads 42."}, format="json")
    assert everyone.status_code == 201, everyone.content
    assert everyone.data["to"] == "exam" and everyone.data["recipients"] == 2 and everyone.data["acks"] == []
    only_bob = r["proctor"].post(
        announce_url(r["exam"].pk), {"message": "Bob, your mic.", "attempt_id": r["bob_attempt"].pk}, format="json"
    )
    assert only_bob.status_code == 201 and only_bob.data["student"] == "bob" and only_bob.data["recipients"] == 1

    ann_room = client_for(r["ann"]).get(room_url(r["ann_attempt"].pk)).json()
    bob_room = client_for(r["bob"]).get(room_url(r["bob_attempt"].pk)).json()
    assert [a["message"] for a in ann_room["announcements"]] == ["Q3: option C reads 42."]
    assert [(a["message"], a["to"]) for a in bob_room["announcements"]] == [
        ("Q3: option C reads 42.", "exam"),
        ("Bob, your mic.", "student"),
    ]
    assert all(a["acknowledged_at"] is None for a in bob_room["announcements"])


def test_a_student_acknowledges_once_and_the_proctors_see_who(room_of, client_for):
    r = room_of
    sent = r["proctor"].post(announce_url(r["exam"].pk), {"message": "Ten minutes left."}, format="json").data
    ann = client_for(r["ann"])
    url = f"/api/exam/room/{r['ann_attempt'].pk}/acknowledge/"
    first = ann.post(url, {"announcement_id": sent["id"]}, format="json")
    again = ann.post(url, {"announcement_id": sent["id"]}, format="json")
    assert first.status_code == again.status_code == 200
    assert first.data == again.data  # the first acknowledgement stands
    assert AnnouncementAck.objects.filter(announcement_id=sent["id"]).count() == 1

    seen = client_for(r["ann"]).get(room_url(r["ann_attempt"].pk)).json()["announcements"][0]
    assert seen["acknowledged_at"] == first.data["acknowledged_at"]
    listed = r["proctor"].get(f"/api/proctor/exams/{r['exam'].pk}/communications/").json()["announcements"][0]
    assert [a["student"] for a in listed["acks"]] == ["ann"] and listed["recipients"] == 2


def test_acknowledging_what_is_not_yours_is_refused(room_of, client_for, make_exam, make_user):
    r = room_of
    to_bob = (
        r["proctor"]
        .post(announce_url(r["exam"].pk), {"message": "Bob only.", "attempt_id": r["bob_attempt"].pk}, format="json")
        .data
    )
    ann = client_for(r["ann"])
    # Another student's announcement: not one of this attempt's.
    response = ann.post(
        f"/api/exam/room/{r['ann_attempt'].pk}/acknowledge/", {"announcement_id": to_bob["id"]}, format="json"
    )
    assert_error(response, 404, "not_found")
    # Through another student's attempt.
    response = ann.post(
        f"/api/exam/room/{r['bob_attempt'].pk}/acknowledge/", {"announcement_id": to_bob["id"]}, format="json"
    )
    assert_error(response, 403, "not_owner")
    # Of another exam.
    other = make_exam()
    elsewhere = r["proctor"].post(announce_url(other.pk), {"message": "Other room."}, format="json").data
    response = ann.post(
        f"/api/exam/room/{r['ann_attempt'].pk}/acknowledge/", {"announcement_id": elsewhere["id"]}, format="json"
    )
    assert_error(response, 404, "not_found")
    assert not AnnouncementAck.objects.exists()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"message": ""}, 400, "invalid"),
        ({"message": "x" * (MAX_ANNOUNCEMENT_LENGTH + 1)}, 400, "invalid"),
        ({"message": 5}, 400, "invalid"),
        ({"message": "hi", "attempt_id": 999999}, 404, "not_found"),
    ],
)
def test_bad_announcements_are_refused(room_of, body, status, code):
    response = room_of["proctor"].post(announce_url(room_of["exam"].pk), body, format="json")
    assert_error(response, status, code)
    assert not Announcement.objects.exists()


def test_an_announcement_naming_an_attempt_of_another_exam_is_refused(room_of, make_exam, make_user):
    other = start(make_user(), make_exam())
    response = room_of["proctor"].post(
        announce_url(room_of["exam"].pk), {"message": "hi", "attempt_id": other.pk}, format="json"
    )
    assert_error(response, 400, "attempt_not_in_exam")


def test_only_proctors_announce(room_of, client_for):
    response = client_for(room_of["ann"]).post(announce_url(room_of["exam"].pk), {"message": "hi"}, format="json")
    assert_error(response, 403, "not_staff")


def test_announcements_are_rate_limited_per_exam(room_of, make_user, client_for):
    url = announce_url(room_of["exam"].pk)
    for i in range(ANNOUNCEMENTS_PER_WINDOW):
        assert room_of["proctor"].post(url, {"message": f"n{i}"}, format="json").status_code == 201
    # Another proctor shares the exam's allowance.
    response = client_for(make_user(staff=True)).post(url, {"message": "one more"}, format="json")
    assert_error(response, 429, "throttled")
    # Once the window has passed, announcing works again.
    Announcement.objects.update(sent_at=clock.now() - timedelta(minutes=2))
    assert room_of["proctor"].post(url, {"message": "later"}, format="json").status_code == 201


def test_a_students_room_is_two_queries_however_many_announcements(room_of):
    r = room_of
    for i in range(5):
        r["proctor"].post(announce_url(r["exam"].pk), {"message": f"n{i}"}, format="json")
    with CaptureQueriesContext(connection) as queries:
        built = room.student_room(r["ann_attempt"])
    assert len(built.announcements) == 5
    assert len(queries.captured_queries) == 2


def test_many_rooms_are_read_in_three_queries(room_of):
    r = room_of
    r["proctor"].post(announce_url(r["exam"].pk), {"message": "all"}, format="json")
    r["proctor"].post(announce_url(r["exam"].pk), {"message": "ann", "attempt_id": r["ann_attempt"].pk}, format="json")
    services_ann = room.student_room(r["ann_attempt"])
    with CaptureQueriesContext(connection) as queries:
        rooms = room.student_rooms([r["ann_attempt"], r["bob_attempt"]])
    assert len(queries.captured_queries) == 3
    assert rooms[r["ann_attempt"].pk] == services_ann
    assert [a.announcement.message for a in rooms[r["bob_attempt"].pk].announcements] == ["all"]


# --- Students' questions ------------------------------------------------------------------------


def test_a_question_is_asked_and_answered_in_place(room_of, client_for):
    r = room_of
    ann = client_for(r["ann"])
    asked = ann.post(f"/api/exam/room/{r['ann_attempt'].pk}/questions/", {"text": "Is Q2 in radians?"}, format="json")
    assert asked.status_code == 201 and asked.data["answer"] is None
    inbox = r["proctor"].get(f"/api/proctor/exams/{r['exam'].pk}/communications/").json()["questions"]
    assert [(q["student"], q["text"], q["answer"]) for q in inbox] == [("ann", "Is Q2 in radians?", None)]
    answered = r["proctor"].post(
        f"/api/proctor/exams/{r['exam'].pk}/questions/{asked.data['id']}/answer/", {"text": "Yes."}, format="json"
    )
    assert answered.status_code == 200
    assert answered.data["answer"] == "Yes." and answered.data["answered_by"] == r["proctor_user"].username
    thread = ann.get(room_url(r["ann_attempt"].pk)).json()["questions"]
    assert [(q["text"], q["answer"]) for q in thread] == [("Is Q2 in radians?", "Yes.")]
    # Bob's thread is his own.
    assert client_for(r["bob"]).get(room_url(r["bob_attempt"].pk)).json()["questions"] == []


def test_questions_are_limited_in_length_and_rate(room_of, client_for):
    r = room_of
    ann, url = client_for(r["ann"]), f"/api/exam/room/{r['ann_attempt'].pk}/questions/"
    assert_error(ann.post(url, {"text": "x" * (MAX_STUDENT_QUESTION_LENGTH + 1)}, format="json"), 400, "invalid")
    assert_error(ann.post(url, {"text": ""}, format="json"), 400, "invalid")
    for i in range(QUESTIONS_PER_WINDOW):
        assert ann.post(url, {"text": f"q{i}"}, format="json").status_code == 201
    assert_error(ann.post(url, {"text": "one more"}, format="json"), 429, "throttled")
    # Bob's allowance is his own.
    assert client_for(r["bob"]).post(f"/api/exam/room/{r['bob_attempt'].pk}/questions/", {"text": "q"}, format="json")
    assert StudentQuestion.objects.filter(attempt=r["ann_attempt"]).count() == QUESTIONS_PER_WINDOW


def test_no_questions_once_the_attempt_has_ended_or_from_someone_else(room_of, client_for):
    r = room_of
    url = f"/api/exam/room/{r['ann_attempt'].pk}/questions/"
    assert_error(client_for(r["bob"]).post(url, {"text": "q"}, format="json"), 403, "not_owner")
    set_deadline(r["ann_attempt"], seconds_from_now=-60)
    assert_error(client_for(r["ann"]).post(url, {"text": "q"}, format="json"), 409, "attempt_ended")
    assert not StudentQuestion.objects.exists()


def test_answering_a_question_of_another_exam_or_as_a_student_is_refused(room_of, client_for, make_exam):
    r = room_of
    asked = (
        client_for(r["ann"]).post(f"/api/exam/room/{r['ann_attempt'].pk}/questions/", {"text": "q"}, format="json").data
    )
    other = make_exam()
    response = r["proctor"].post(
        f"/api/proctor/exams/{other.pk}/questions/{asked['id']}/answer/", {"text": "a"}, format="json"
    )
    assert_error(response, 400, "attempt_not_in_exam")
    response = client_for(r["bob"]).post(
        f"/api/proctor/exams/{r['exam'].pk}/questions/{asked['id']}/answer/", {"text": "a"}, format="json"
    )
    assert_error(response, 403, "not_staff")
    response = r["proctor"].post(
        f"/api/proctor/exams/{r['exam'].pk}/questions/999999/answer/", {"text": "a"}, format="json"
    )
    assert_error(response, 404, "not_found")
    assert StudentQuestion.objects.get().answered_at is None


# --- Incidents ----------------------------------------------------------------------------------


def test_an_incident_with_time_extends_the_attempt_through_the_one_rule_and_joins_its_log(room_of):
    r = room_of
    attempt = r["ann_attempt"]
    before = attempt.deadline_at
    response = r["proctor"].post(
        incidents_url(r["exam"].pk),
        {"category": "technical", "note": "Laptop froze.", "attempt_id": attempt.pk, "granted_seconds": 300},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.data["student"] == "ann" and response.data["granted_seconds"] == 300
    attempt.refresh_from_db()
    assert attempt.deadline_at == before + timedelta(seconds=300) and attempt.extra_seconds == 300
    assert event_kinds(attempt)[-2:] == [EventKind.INCIDENT, EventKind.EXTENDED]
    logged = AttemptEvent.objects.get(attempt=attempt, kind=EventKind.INCIDENT).detail
    assert logged == {
        "incident_id": response.data["id"],
        "category": "technical",
        "note": "Laptop froze.",
        "by": r["proctor_user"].username,
        "granted_seconds": 300,
        "scope": "attempt",
    }
    # Bob's attempt is untouched.
    assert EventKind.INCIDENT not in event_kinds(r["bob_attempt"])


def test_an_exam_incident_grants_every_attempt_in_progress_and_not_the_ended(room_of):
    r = room_of
    services.submit_attempt(user=r["bob"], attempt_id=r["bob_attempt"].pk)
    ann_before = r["ann_attempt"].deadline_at
    response = r["proctor"].post(
        incidents_url(r["exam"].pk),
        {"category": "environment", "note": "Fire alarm, 12 minutes.", "granted_seconds": 720},
        format="json",
    )
    assert response.status_code == 201 and response.data["attempt_id"] is None
    r["ann_attempt"].refresh_from_db()
    r["bob_attempt"].refresh_from_db()
    assert r["ann_attempt"].deadline_at == ann_before + timedelta(seconds=720)
    assert r["bob_attempt"].extra_seconds == 0 and EventKind.INCIDENT not in event_kinds(r["bob_attempt"])
    assert EventKind.INCIDENT in event_kinds(r["ann_attempt"])
    assert ExamEvent.objects.filter(exam=r["exam"], kind=ExamEventKind.INCIDENT).count() == 1
    listed = r["proctor"].get(incidents_url(r["exam"].pk)).json()["incidents"]
    assert [(i["category"], i["granted_seconds"]) for i in listed] == [("environment", 720)]


def test_an_exam_incident_grants_time_to_many_attempts_in_a_bounded_number_of_statements(
    make_exam, make_user, proctor, on_commit, clean_redis
):
    """One bulk time change (exams/time_control.py), not one extension per attempt: the same statements
    for 50 attempts as for 5, with a `time_changed` audit line each; a hard close stands."""
    from exams import deadlines, incidents, timers
    from exams.models import CloseOverride

    def record(exam, note):
        with CaptureQueriesContext(connection) as queries:
            incident = incidents.record_incident(
                exam_id=exam.pk, by=proctor, category="environment", note=note, granted_seconds=90
            )
        return incident, len(queries)

    small = make_exam(duration=600)
    for _ in range(5):
        start(make_user(), small)
    _, few = record(small, "Fire alarm.")

    exam = make_exam(duration=600)
    students = [make_user() for _ in range(50)]
    CloseOverride.objects.create(user=students[0], exam=exam, close_at=clock.now() + timedelta(seconds=630))
    attempts = [start(s, exam) for s in students]
    with on_commit():
        incident, many = record(exam, "Fire alarm, 90 s.")
    assert many <= few <= 20, (few, many)

    for before in attempts:
        after = Attempt.objects.get(pk=before.pk)
        assert after.extra_seconds == 90 and after.deadline_at == deadlines.deadline_of(after)
        assert event_kinds(after)[-2:] == [EventKind.INCIDENT, "time_changed"]
        line = AttemptEvent.objects.filter(attempt=after, kind="time_changed").get().detail
        assert line["seconds"] == 90 and line["reason"] == f"incident {incident.pk}: Fire alarm, 90 s."
        assert int(clean_redis.zscore(timers.DEADLINES_KEY, after.pk)) == clock.to_ms(after.deadline_at)
    # Up to the student's close (it stands), the others their full 90 s.
    assert Attempt.objects.get(pk=attempts[0].pk).deadline_at == attempts[0].close_at
    assert Attempt.objects.get(pk=attempts[1].pk).deadline_at == attempts[1].deadline_at + timedelta(seconds=90)


def test_time_for_an_ended_attempt_is_refused_and_nothing_is_recorded(room_of):
    r = room_of
    services.submit_attempt(user=r["ann"], attempt_id=r["ann_attempt"].pk)
    response = r["proctor"].post(
        incidents_url(r["exam"].pk),
        {"category": "staff", "note": "Late start.", "attempt_id": r["ann_attempt"].pk, "granted_seconds": 60},
        format="json",
    )
    assert_error(response, 409, "attempt_ended")
    assert not Incident.objects.exists() and EventKind.INCIDENT not in event_kinds(r["ann_attempt"])
    # Without time, an incident against an ended attempt is recorded.
    response = r["proctor"].post(
        incidents_url(r["exam"].pk),
        {"category": "staff", "note": "Noted after the end.", "attempt_id": r["ann_attempt"].pk},
        format="json",
    )
    assert response.status_code == 201 and response.data["granted_seconds"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"category": "weather", "note": "x"},
        {"category": "other", "note": ""},
        {"category": "other", "note": "x", "granted_seconds": -1},
        {"category": "other", "note": "x", "granted_seconds": 86401},
        {"category": "other", "note": "x", "granted_seconds": "60"},
        {"note": "x"},
    ],
)
def test_bad_incidents_are_refused(room_of, body):
    assert_error(room_of["proctor"].post(incidents_url(room_of["exam"].pk), body, format="json"), 400, "invalid")
    assert not Incident.objects.exists()


def test_only_proctors_record_and_list_incidents(room_of, client_for):
    student = client_for(room_of["ann"])
    assert_error(student.get(incidents_url(room_of["exam"].pk)), 403, "not_staff")
    response = student.post(incidents_url(room_of["exam"].pk), {"category": "other", "note": "x"}, format="json")
    assert_error(response, 403, "not_staff")
    assert_error(room_of["proctor"].get(incidents_url(999999)), 404, "not_found")
