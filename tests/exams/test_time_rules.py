"""Accommodations, the exam's window and late-start rule, close overrides, and grants past the close
(issue 11 §1, §2): services, REST and the management command, on the real database and Redis."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command

from exams import clock, deadlines, services, time_rules, timers
from exams.errors import Conflict, ServiceError
from exams.models import Accommodation, Attempt, AttemptEvent, CloseOverride, EventKind, LateEnd, LateStart

from .conftest import assert_error, extend_url, questions_url, start_url

pytestmark = pytest.mark.django_db

ACCOMMODATIONS = "/api/proctor/accommodations/"
IMPORT = "/api/proctor/accommodations/import/"


def overrides_url(exam_id: int) -> str:
    return f"/api/proctor/exams/{exam_id}/close-overrides/"


def accommodate(proctor, student, exam=None, *, multiplier="1.5", extra=0, apply=False):
    return time_rules.set_accommodation(
        by=proctor,
        username=student.username,
        exam_id=None if exam is None else exam.pk,
        multiplier=Decimal(multiplier),
        extra_seconds=extra,
        reason="dyslexia",
        apply_to_running=apply,
    )


def start(student, exam) -> Attempt:
    attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt
    attempt.refresh_from_db()
    return attempt


def redis_deadline_ms(attempt_id: int) -> int:
    return int(timers.get_redis().zscore(timers.DEADLINES_KEY, str(attempt_id)))


# --- Accommodations at the start ------------------------------------------------------------


def test_an_accommodation_is_applied_when_the_attempt_starts(student, proctor, make_exam):
    exam = make_exam(duration=3600)
    accommodate(proctor, student, exam, multiplier="1.5", extra=600)
    attempt = start(student, exam)
    assert (attempt.allotted_seconds, attempt.accommodation_seconds) == (6000, 2400)
    assert attempt.deadline_at == attempt.started_at + timedelta(seconds=6000) == deadlines.deadline_of(attempt)
    assert redis_deadline_ms(attempt.pk) == clock.to_ms(attempt.deadline_at)
    started = AttemptEvent.objects.get(attempt=attempt, kind=EventKind.STARTED)
    assert started.detail["allotted_seconds"] == 6000
    assert started.detail["accommodation"]["multiplier"] == "1.50"
    assert started.detail["accommodation"]["reason"] == "dyslexia"


def test_a_per_exam_accommodation_wins_over_the_all_exams_one(student, proctor, make_exam):
    first, second = make_exam(duration=100), make_exam(duration=100)
    accommodate(proctor, student, None, multiplier="2")
    accommodate(proctor, student, first, multiplier="1.25")
    assert start(student, first).allotted_seconds == 125
    assert start(student, second).allotted_seconds == 200


def test_another_students_accommodation_changes_nothing(student, make_user, proctor, exam):
    accommodate(proctor, make_user(), exam, multiplier="3")
    attempt = start(student, exam)
    assert (attempt.allotted_seconds, attempt.accommodation_seconds) == (exam.duration_seconds, 0)


def test_the_student_sees_their_time_before_and_during_the_exam(student, proctor, make_exam, client_for):
    exam = make_exam(duration=3600)
    accommodate(proctor, student, exam, multiplier="1.5")
    client = client_for(student)
    listed = next(e for e in client.get("/api/exams/").json()["exams"] if e["id"] == exam.pk)
    assert (listed["allotted_seconds"], listed["accommodation_seconds"]) == (5400, 1800)
    body = client.post(start_url(exam.pk)).json()
    assert body["allowance"] == {
        "allotted_seconds": 5400,
        "accommodation_seconds": 1800,
        "granted_seconds": 0,
        "paused_seconds": 0,
        "close_at": None,
    }
    questions = client.get(questions_url(body["attempt_id"])).json()
    assert questions["allowance"]["accommodation_seconds"] == 1800


def test_proctors_see_who_has_an_accommodation(student, make_user, proctor, exam, client_for):
    other = make_user()
    accommodate(proctor, student, exam, multiplier="1", extra=300)
    start(student, exam)
    start(other, exam)
    rows = client_for(proctor).get(f"/api/proctor/exams/{exam.pk}/attempts/").json()["attempts"]
    assert {r["student"]: r["accommodation_seconds"] for r in rows} == {student.username: 300, other.username: 0}


# --- Changing an accommodation while the student sits the exam ---------------------------------


def test_a_change_reaches_a_running_attempt_only_when_the_proctor_says_so(student, proctor, make_exam, on_commit):
    exam = make_exam(duration=600)
    attempt = start(student, exam)
    change = accommodate(proctor, student, exam, multiplier="1.5")
    assert (change.applied, change.not_applied) == ([], 1)
    attempt.refresh_from_db()
    assert attempt.allotted_seconds == 600
    with on_commit():
        change = accommodate(proctor, student, exam, multiplier="1.5", apply=True)
    [applied] = change.applied
    assert (applied.allotted_seconds, applied.accommodation_seconds) == (900, 300)
    assert applied.deadline_at == attempt.deadline_at + timedelta(seconds=300) == deadlines.deadline_of(applied)
    assert redis_deadline_ms(attempt.pk) == clock.to_ms(applied.deadline_at)
    event = AttemptEvent.objects.get(attempt=attempt, kind=EventKind.ACCOMMODATION_APPLIED)
    assert event.detail["by"] == proctor.username
    assert (event.detail["allotted_from"], event.detail["allotted_to"]) == (600, 900)


def test_taking_an_accommodation_away_may_not_leave_less_than_a_minute(student, proctor, make_exam):
    exam = make_exam(duration=600)
    accommodate(proctor, student, exam, multiplier="2")
    attempt = start(student, exam)
    # 15 minutes in: without the accommodation its 10 minutes are over.
    Attempt.objects.filter(pk=attempt.pk).update(
        **deadlines.timeline_update(started_at=attempt.started_at - timedelta(minutes=15))
    )
    accommodation = Accommodation.objects.get(user=student)
    with pytest.raises(Conflict) as refused:
        time_rules.delete_accommodation(by=proctor, accommodation_id=accommodation.pk, apply_to_running=True)
    assert refused.value.code == "too_short"
    assert Accommodation.objects.filter(pk=accommodation.pk).exists()  # rolled back
    # Without applying it, the running attempt keeps its time.
    change = time_rules.delete_accommodation(by=proctor, accommodation_id=accommodation.pk)
    assert change.not_applied == 1


def test_a_multiplier_is_kept_to_two_decimals_rounded_half_up(student, proctor, exam):
    assert accommodate(proctor, student, exam, multiplier="1.255").rule.multiplier == Decimal("1.26")
    assert accommodate(proctor, student, exam, multiplier="1.254").rule.multiplier == Decimal("1.25")


def test_bad_accommodations_are_refused(student, proctor, exam):
    for multiplier, extra in (("0.5", 0), ("5.01", 0), ("0.994", 0), ("1", -1), ("1", 24 * 3600 + 1)):
        with pytest.raises(ServiceError) as refused:
            accommodate(proctor, student, exam, multiplier=multiplier, extra=extra)
        assert refused.value.code == "invalid"
    with pytest.raises(ServiceError) as refused:
        time_rules.set_accommodation(
            by=proctor, username="nobody", exam_id=None, multiplier=Decimal(1), extra_seconds=0, reason="x"
        )
    assert refused.value.code == "unknown_user"


# --- REST ----------------------------------------------------------------------------------------


def test_rest_crud_of_accommodations(student, proctor, make_exam, client_for):
    exam = make_exam(duration=600)
    client = client_for(proctor)
    created = client.post(
        ACCOMMODATIONS,
        {"username": student.username, "exam_id": exam.pk, "multiplier": 1.5, "reason": "RSI"},
        format="json",
    )
    assert created.status_code == 200, created.content
    body = created.json()
    assert body["accommodation"]["multiplier"] == 1.5 and body["accommodation"]["set_by"] == proctor.username
    assert (body["applied_attempts"], body["not_applied"]) == ([], 0)
    accommodation_id = body["accommodation"]["id"]
    listed = client.get(ACCOMMODATIONS, {"exam_id": exam.pk}).json()["accommodations"]
    assert [a["id"] for a in listed] == [accommodation_id]
    assert client.get(ACCOMMODATIONS, {"username": "someone else"}).json()["accommodations"] == []
    attempt = start(student, exam)
    patched = client.patch(
        f"{ACCOMMODATIONS}{accommodation_id}/", {"extra_seconds": 120, "apply_to_running": True}, format="json"
    ).json()
    assert patched["applied_attempts"] == [attempt.pk] and patched["accommodation"]["extra_seconds"] == 120
    deleted = client.delete(f"{ACCOMMODATIONS}{accommodation_id}/?apply_to_running=true").json()
    assert deleted == {"accommodation": None, "applied_attempts": [attempt.pk], "not_applied": 0}
    attempt.refresh_from_db()
    assert (attempt.allotted_seconds, attempt.accommodation_seconds) == (exam.duration_seconds, 0)


def test_rest_refuses_students_and_bad_bodies(student, proctor, exam, client_for):
    assert_error(client_for(student).get(ACCOMMODATIONS), 403, "not_staff")
    client = client_for(proctor)
    bad = {"username": student.username, "multiplier": 9, "reason": "x"}
    assert_error(client.post(ACCOMMODATIONS, bad, format="json"), 400, "invalid")
    missing = {"username": "ghost", "reason": "x"}
    assert_error(client.post(ACCOMMODATIONS, missing, format="json"), 404, "unknown_user")
    assert_error(client.get(ACCOMMODATIONS, {"exam": 1}), 400, "invalid")
    assert_error(client.patch(f"{ACCOMMODATIONS}999999/", {"reason": "x"}, format="json"), 404, "not_found")
    assert_error(client.get(ACCOMMODATIONS, {"exam_id": "x"}), 400, "invalid")


CSV = """username,multiplier,extra_minutes,reason
{a},1.5,10,dyslexia
{b},,15,visual impairment
ghost,1.5,0,unknown
{a},2,0,twice
{c},abc,0,bad number
{c},1.5,-3,bad minutes
{c},1.5,0
"""


def test_a_csv_import_saves_the_good_rows_and_says_why_each_bad_one_was_refused(make_user, proctor, exam, client_for):
    a, b, c = make_user(), make_user(), make_user()
    text = CSV.format(a=a.username, b=b.username, c=c.username)
    body = client_for(proctor).post(IMPORT, {"csv": text, "exam_id": exam.pk}, format="json").json()
    assert (body["created"], body["updated"], body["applied"]) == (2, 0, 0)
    assert [(r["line"], r["username"]) for r in body["refused"]] == [
        (4, "ghost"),
        (5, a.username),
        (6, c.username),
        (7, c.username),
        (8, c.username),
    ]
    messages = [r["message"] for r in body["refused"]]
    assert "No user named 'ghost'" in messages[0] and "more than once" in messages[1]
    assert "not a number" in messages[2] and "whole number" in messages[3] and "Expected 4 columns" in messages[4]
    saved = {x.user.username: (x.multiplier, x.extra_seconds) for x in Accommodation.objects.select_related("user")}
    assert saved == {a.username: (Decimal("1.50"), 600), b.username: (Decimal("1.00"), 900)}
    again = client_for(proctor).post(IMPORT, {"csv": f"{a.username},2,0,again\n", "exam_id": exam.pk}, format="json")
    assert again.json()["updated"] == 1


def test_an_import_reads_a_bare_carriage_return_as_a_row_end(make_user, proctor, client_for):
    # Schemathesis sent a bare \r mid-text: the csv module failed the whole text with a 500.
    a, b = make_user(), make_user()
    client = client_for(proctor)
    body = client.post(IMPORT, {"csv": f"{a.username},1.5,0,x\r{b.username},2,0,y"}, format="json").json()
    assert (body["created"], body["refused"]) == (2, [])


def test_the_import_command(make_user, proctor, tmp_path, capsys):
    a = make_user()
    good = tmp_path / "good.csv"
    good.write_text(f"{a.username},1.25,5,extra time\n")
    call_command("import_accommodations", str(good), "--by", proctor.username)
    assert "created 1" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("ghost,1,0,nobody\n")
    with pytest.raises(SystemExit) as exited:
        call_command("import_accommodations", str(bad), "--by", proctor.username)
    assert exited.value.code == 1
    assert "line 1 (ghost): No user named 'ghost'" in capsys.readouterr().err


# --- The window and the late-start rule ------------------------------------------------------------


def test_the_late_start_rule(student, make_user, proctor, make_exam):
    opened = clock.now() - timedelta(minutes=20)
    allow = make_exam(opens_at=opened)
    assert start(student, allow)
    until = make_exam(opens_at=opened, late_start=LateStart.UNTIL, late_start_minutes=30)
    assert start(student, until)
    too_late = make_exam(opens_at=opened, late_start=LateStart.UNTIL, late_start_minutes=15)
    with pytest.raises(Conflict) as refused:
        services.start_attempt(user=student, exam_id=too_late.pk)
    assert refused.value.code == "late_start_refused"
    refuse = make_exam(opens_at=opened, late_start=LateStart.REFUSE)
    with pytest.raises(Conflict):
        services.start_attempt(user=student, exam_id=refuse.pk)
    # A student given their own close was let in by staff: the late-start rule does not hold them.
    time_rules.set_close_override(
        by=proctor,
        username=student.username,
        exam_id=refuse.pk,
        close_at=clock.now() + timedelta(hours=1),
        reason="late",
    )
    assert start(student, refuse)


def test_a_late_start_ends_at_the_close_or_gets_full_time(student, make_user, make_exam):
    closes = clock.now() + timedelta(minutes=10)
    at_close = start(student, make_exam(duration=3600, closes_at=closes))
    assert at_close.deadline_at == at_close.close_at == closes
    full = start(student, make_exam(duration=3600, closes_at=closes, late_end=LateEnd.FULL_TIME))
    assert full.close_at is None and full.deadline_at == full.started_at + timedelta(hours=1)
    assert AttemptEvent.objects.get(attempt=full, kind=EventKind.STARTED).detail["close_source"] == "full_time"


def test_a_close_override_lets_a_student_start_after_the_exam_closed(student, proctor, make_exam, client_for):
    exam = make_exam(duration=3600, closes_at=clock.now() - timedelta(minutes=1))
    assert_error(client_for(student).post(start_url(exam.pk)), 409, "exam_closed")
    close = clock.now() + timedelta(minutes=30)
    time_rules.set_close_override(by=proctor, username=student.username, exam_id=exam.pk, close_at=close, reason="x")
    attempt = start(student, exam)
    assert attempt.close_at == attempt.deadline_at == close


# --- Close overrides on a running attempt -----------------------------------------------------------


def test_a_close_override_moves_the_running_attempt_and_removing_it_moves_it_back(
    student, proctor, make_exam, client_for
):
    closes = clock.now() + timedelta(minutes=20)
    exam = make_exam(duration=3600, closes_at=closes)
    attempt = start(student, exam)
    assert attempt.deadline_at == closes
    later = closes + timedelta(minutes=25)
    client = client_for(proctor)
    body = client.post(
        overrides_url(exam.pk),
        {"username": student.username, "close_at": clock.iso(later), "reason": "fire drill"},
        format="json",
    ).json()
    assert body["applied_attempts"] == [attempt.pk] and body["close_override"]["reason"] == "fire drill"
    attempt.refresh_from_db()
    assert attempt.close_at == attempt.deadline_at == later.replace(microsecond=later.microsecond // 1000 * 1000)
    assert redis_deadline_ms(attempt.pk) == clock.to_ms(attempt.deadline_at)
    moved = AttemptEvent.objects.get(attempt=attempt, kind=EventKind.CLOSE_MOVED)
    assert moved.detail["via"] == "override" and moved.detail["by"] == proctor.username
    assert [o["id"] for o in client.get(overrides_url(exam.pk)).json()["close_overrides"]] == [
        body["close_override"]["id"]
    ]
    removed = client.delete(f"/api/proctor/close-overrides/{body['close_override']['id']}/").json()
    assert removed["close_override"] is None and removed["applied_attempts"] == [attempt.pk]
    attempt.refresh_from_db()
    assert attempt.close_at == attempt.deadline_at == closes
    assert not CloseOverride.objects.exists()


# --- Grants past the close ------------------------------------------------------------------------


def test_a_grant_past_the_close_is_refused_with_how_far_unless_the_proctor_chooses(
    student, proctor, make_exam, client_for
):
    closes = clock.now() + timedelta(minutes=30)
    exam = make_exam(duration=20 * 60, closes_at=closes)
    attempt = start(student, exam)
    client = client_for(proctor)
    # 20 min + 22 min from the start ends about 12 min past the close.
    refused = assert_error(client.post(extend_url(attempt.pk), {"seconds": 22 * 60}, format="json"), 409, "past_close")
    nominal = attempt.started_at + timedelta(minutes=42)
    over = round((nominal - closes) / timedelta(minutes=1))
    assert f"This runs {over} min past the close" in refused["message"]
    assert "close=move" in refused["message"] and "close=keep" in refused["message"]
    assert Attempt.objects.get(pk=attempt.pk).extra_seconds == 0
    assert_error(client.post(extend_url(attempt.pk), {"seconds": 60, "close": "clamp"}, format="json"), 400, "invalid")
    for old in ({"move_close": True}, {"clamp": True}):  # the old words choose nothing any more
        past = {"seconds": 22 * 60, **old}
        assert_error(client.post(extend_url(attempt.pk), past, format="json"), 409, "past_close")

    clamped = client.post(extend_url(attempt.pk), {"seconds": 22 * 60, "close": "keep"}, format="json").json()
    attempt.refresh_from_db()
    assert attempt.deadline_at == closes and clamped["deadline"] == clock.iso(closes)

    moved = client.post(
        extend_url(attempt.pk), {"seconds": 60, "close": "move", "reason": "power cut"}, format="json"
    ).json()
    attempt.refresh_from_db()
    assert attempt.extra_seconds == 23 * 60
    assert attempt.close_at == attempt.deadline_at == attempt.started_at + timedelta(minutes=43)
    assert moved["deadline"] == clock.iso(attempt.deadline_at)
    events = list(AttemptEvent.objects.filter(attempt=attempt).exclude(kind=EventKind.STARTED).order_by("id"))
    assert [e.kind for e in events] == [EventKind.EXTENDED, EventKind.EXTENDED, EventKind.CLOSE_MOVED]
    assert events[1].detail["reason"] == "power cut" and events[1].detail["close"] == "move"
    assert events[2].detail["from"] == clock.iso(closes) and events[2].detail["via"] == "extend"


def test_a_grant_within_the_close_needs_no_choice(student, proctor, make_exam, client_for):
    exam = make_exam(duration=600, closes_at=clock.now() + timedelta(hours=1))
    attempt = start(student, exam)
    body = client_for(proctor).post(extend_url(attempt.pk), {"seconds": 60}, format="json").json()
    assert body["added_seconds"] == 60
    assert Attempt.objects.get(pk=attempt.pk).deadline_at == attempt.deadline_at + timedelta(seconds=60)


# --- The waiting room's synchronized start ------------------------------------------------------


def test_students_seated_together_each_get_their_accommodation_and_close(make_user, proctor, make_exam):
    from exams import waiting_room
    from exams.models import CheckIn

    closes = clock.now() + timedelta(hours=3)
    exam = make_exam(duration=3600, waiting_room=True, closes_at=closes)
    plain, accommodated, overridden = make_user(), make_user(), make_user()
    for user in (plain, accommodated, overridden):
        CheckIn.objects.create(exam=exam, user=user, arrived_at=clock.now(), code_accepted_at=clock.now())
    accommodate(proctor, accommodated, None, multiplier="1.5")
    own_close = clock.now() + timedelta(minutes=30)
    time_rules.set_close_override(
        by=proctor, username=overridden.username, exam_id=exam.pk, close_at=own_close, reason="leaves early"
    )
    started = waiting_room.start_now(exam_id=exam.pk, by=proctor).started_at
    seating = waiting_room.seat_students(exam_id=exam.pk, user_ids=[plain.pk, accommodated.pk, overridden.pk])
    by_user = {a.user_id: Attempt.objects.get(pk=a.pk) for a in seating.attempts}
    assert by_user[plain.pk].deadline_at == started + timedelta(hours=1)
    assert (by_user[accommodated.pk].allotted_seconds, by_user[accommodated.pk].accommodation_seconds) == (5400, 1800)
    assert by_user[accommodated.pk].deadline_at == started + timedelta(minutes=90)
    assert by_user[overridden.pk].close_at == by_user[overridden.pk].deadline_at == own_close
    for attempt in by_user.values():
        assert attempt.deadline_at == deadlines.deadline_of(attempt)
    detail = AttemptEvent.objects.get(attempt=by_user[accommodated.pk], kind=EventKind.STARTED).detail
    assert detail["synchronized"] and detail["allotted_seconds"] == 5400
