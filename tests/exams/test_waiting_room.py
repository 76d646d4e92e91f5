"""The waiting room and the synchronized start (exams/waiting_room.py) against the real database and Redis."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exams import clock, time_control, timers, waiting_room
from exams.contract import builders, frames
from exams.errors import ServiceError
from exams.models import Attempt, AttemptEvent, CheckIn, Enrollment, EventKind, ExamEvent, ExamEventKind
from tests.support.contract_check import check

pytestmark = pytest.mark.django_db


@pytest.fixture
def room_exam(make_exam):
    return make_exam(duration=600, waiting_room=True)


def checked_in(exam, *users):
    for user in users:
        CheckIn.objects.create(exam=exam, user=user, arrived_at=clock.now(), code_accepted_at=clock.now())


def test_a_student_cannot_start_a_waiting_room_exam_on_their_own_before_the_start(room_exam, student, client_for):
    reply = client_for(student).post(f"/api/exam/timer/start/{room_exam.pk}/")
    assert (reply.status_code, reply.json()["error"]["code"]) == (409, "exam_not_started")


def test_start_now_is_one_compare_and_set(room_exam, proctor, on_commit):
    before = clock.now()
    with on_commit():
        exam = waiting_room.start_now(exam_id=room_exam.pk, by=proctor)
    assert exam.started_at - before >= waiting_room.lead()
    with pytest.raises(ServiceError) as again:
        waiting_room.start_now(exam_id=room_exam.pk, by=proctor)
    assert again.value.code == "exam_already_started"
    assert ExamEvent.objects.filter(exam=room_exam, kind=ExamEventKind.STARTED).count() == 1


def test_every_waiting_student_starts_at_the_same_instant_in_bounded_statements(
    room_exam, make_user, proctor, clean_redis
):
    students = [make_user() for _ in range(30)]
    checked_in(room_exam, *students)
    exam = waiting_room.start_now(exam_id=room_exam.pk, by=proctor)

    with CaptureQueriesContext(connection) as queries:
        seating = waiting_room.seat_students(exam_id=room_exam.pk, user_ids=[s.pk for s in students])
    # 18: two of them read every seated student's accommodation and close override (windows.seat_terms),
    # one the exam's pause under its shared row lock (exams/start_pause.py).
    assert len(queries) <= 18, [q["sql"][:80] for q in queries.captured_queries]

    attempts = list(Attempt.objects.filter(exam=room_exam))
    assert (
        len(attempts) == 30
        and len(seating.attempts) == 30
        and sorted(seating.created) == sorted(a.pk for a in attempts)
    )
    assert {a.started_at for a in attempts} == {exam.started_at}
    assert {a.deadline_at for a in attempts} == {exam.started_at + timedelta(seconds=600)}
    assert AttemptEvent.objects.filter(attempt__exam=room_exam, kind=EventKind.STARTED).count() == 30
    # Armed in Redis for the expiry engine: the deadline index and each timer key.
    index = dict(clean_redis.zrange(timers.DEADLINES_KEY, 0, -1, withscores=True))
    assert {int(k): int(v) for k, v in index.items()} == {a.pk: clock.to_ms(a.deadline_at) for a in attempts}
    assert all(clean_redis.pttl(timers.timer_key(a.pk)) > 590_000 for a in attempts)


def _inserts(queries, table: str) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].upper().startswith(f"INSERT INTO {table}".upper())]


def test_the_seating_writes_one_insert_select_per_batch_of_students_with_the_same_terms(
    room_exam, make_user, proctor, monkeypatch
):
    """No value compiled per student (bulk_create spent ~10 s of a loaded process on 2,500): the database
    reads the user ids itself, in batches of seating_writes.BATCH."""
    from exams import seating_writes

    monkeypatch.setattr(seating_writes, "BATCH", 20)
    students = [make_user() for _ in range(50)]
    checked_in(room_exam, *students)
    waiting_room.start_now(exam_id=room_exam.pk, by=proctor)
    with CaptureQueriesContext(connection) as queries:
        seating = waiting_room.seat_students(exam_id=room_exam.pk, user_ids=[s.pk for s in students])
    table = connection.ops.quote_name(Attempt._meta.db_table)
    events = connection.ops.quote_name(AttemptEvent._meta.db_table)
    for sql in [*_inserts(queries, table), *_inserts(queries, events)]:
        assert " SELECT " in sql and " VALUES " not in sql.upper(), sql[:200]
    assert (len(_inserts(queries, table)), len(_inserts(queries, events))) == (3, 3)
    assert len(seating.created) == 50 == Attempt.objects.filter(exam=room_exam).count()
    assert AttemptEvent.objects.filter(attempt__exam=room_exam, kind=EventKind.STARTED).count() == 50


def test_seated_deadlines_follow_the_one_rule_with_accommodations_and_close_overrides(room_exam, make_user, proctor):
    """Each group of terms is one statement; every row's deadline_at is attempt_deadline of its timeline
    and equals the SQL twin (deadline_expression) evaluated by the database, on MariaDB and SQLite."""
    from decimal import Decimal

    from django.db.models import F

    from exams import deadlines, windows
    from exams.models import Accommodation, CloseOverride

    plain, slow, late, both = [make_user() for _ in range(4)]
    room_exam.closes_at = clock.now() + timedelta(hours=3)
    room_exam.save()
    Accommodation.objects.create(user=slow, exam=room_exam, multiplier=Decimal("1.25"), extra_seconds=7, reason="r")
    Accommodation.objects.create(user=both, exam=None, multiplier=Decimal("1.5"), reason="r")
    CloseOverride.objects.create(user=late, exam=room_exam, close_at=clock.now() + timedelta(seconds=300))
    CloseOverride.objects.create(user=both, exam=room_exam, close_at=clock.now() + timedelta(hours=5))
    students = [plain, slow, late, both]
    checked_in(room_exam, *students)
    exam = waiting_room.start_now(exam_id=room_exam.pk, by=proctor)
    with CaptureQueriesContext(connection) as queries:
        waiting_room.seat_students(exam_id=room_exam.pk, user_ids=[s.pk for s in students])
    assert len(_inserts(queries, connection.ops.quote_name(Attempt._meta.db_table))) == 4

    rows = Attempt.objects.filter(exam=room_exam).annotate(twin=deadlines.deadline_expression())
    by_user = {a.user_id: a for a in rows}
    for a in rows:
        assert a.deadline_at == deadlines.deadline_of(a) == a.twin, a.user_id
        assert (
            Attempt.objects.annotate(twin=deadlines.deadline_expression())
            .filter(pk=a.pk, deadline_at=F("twin"))
            .exists()
        )
        terms = windows.start_terms(user=a.user, exam=exam, now=exam.started_at)
        assert (a.allotted_seconds, a.accommodation_seconds, a.close_at) == (
            terms.allotted_seconds,
            terms.accommodation_seconds,
            terms.close_at,
        )
        event = AttemptEvent.objects.get(attempt=a, kind=EventKind.STARTED)
        assert event.detail == {"synchronized": True, **terms.detail}
    assert by_user[slow.pk].allotted_seconds == 757 and by_user[both.pk].allotted_seconds == 900
    assert by_user[late.pk].deadline_at == by_user[late.pk].close_at < exam.started_at + timedelta(seconds=600)


def test_students_seated_while_the_exam_is_paused_are_paused_from_their_start(
    room_exam, make_user, proctor, clean_redis
):
    students = [make_user() for _ in range(3)]
    checked_in(room_exam, *students)
    waiting_room.start_now(exam_id=room_exam.pk, by=proctor)
    time_control.pause(by=proctor, exam_id=room_exam.pk, category="environment", note="Fire alarm")

    seating = waiting_room.seat_students(exam_id=room_exam.pk, user_ids=[s.pk for s in students])
    attempts = list(Attempt.objects.filter(exam=room_exam))
    assert len(attempts) == 3 and len(seating.attempts) == 3
    # Paused from the start instant (ahead of the pause), no timer, and the start frame says so.
    assert all(a.paused_at == a.started_at for a in attempts)
    assert clean_redis.zcard(timers.DEADLINES_KEY) == 0
    for attempt in seating.attempts:
        frame = builders.start_frame(attempt, seating.exam, [])
        check(frames.StartFrame, frame)
        assert frame["paused_at"] == clock.iso(attempt.started_at)
        assert frame["remaining_seconds"] == room_exam.duration_seconds
    assert AttemptEvent.objects.filter(attempt__exam=room_exam, kind=EventKind.PAUSED).count() == 3


def test_seating_again_answers_with_the_same_attempts(room_exam, make_user, proctor):
    students = [make_user() for _ in range(3)]
    checked_in(room_exam, *students)
    waiting_room.start_now(exam_id=room_exam.pk, by=proctor)
    first = waiting_room.seat_students(exam_id=room_exam.pk, user_ids=[s.pk for s in students])
    again = waiting_room.seat_students(exam_id=room_exam.pk, user_ids=[s.pk for s in students])
    assert sorted(a.pk for a in again.attempts) == sorted(a.pk for a in first.attempts)
    assert again.created == [] and Attempt.objects.filter(exam=room_exam).count() == 3


def test_nothing_is_seated_before_the_start(room_exam, student):
    checked_in(room_exam, student)
    assert waiting_room.seat_students(exam_id=room_exam.pk, user_ids=[student.pk]) is None
    room_exam.starts_at = clock.now() + timedelta(seconds=60)
    room_exam.save()
    assert waiting_room.seat_students(exam_id=room_exam.pk, user_ids=[student.pk]) is None
    assert not Attempt.objects.exists()


def test_a_scheduled_start_is_written_once_by_the_first_seating_near_it(room_exam, make_user, on_commit):
    a, b = make_user(), make_user()
    checked_in(room_exam, a, b)
    scheduled = clock.now() + waiting_room.lead() - timedelta(milliseconds=500)
    room_exam.starts_at = scheduled
    room_exam.save()
    with on_commit():
        first = waiting_room.seat_students(exam_id=room_exam.pk, user_ids=[a.pk])
        second = waiting_room.seat_students(exam_id=room_exam.pk, user_ids=[b.pk])
    assert first.started_at == second.started_at == scheduled
    room_exam.refresh_from_db()
    assert room_exam.started_at == scheduled
    assert ExamEvent.objects.filter(exam=room_exam, kind=ExamEventKind.STARTED).count() == 1


def test_a_process_that_heard_of_the_start_too_late_seats_at_a_fresh_instant_with_full_time(room_exam, student):
    checked_in(room_exam, student)
    room_exam.started_at = clock.now() - timedelta(milliseconds=100)
    room_exam.save()
    before = clock.now()
    seating = waiting_room.seat_students(exam_id=room_exam.pk, user_ids=[student.pk])
    attempt = seating.attempts[0]
    assert attempt.started_at >= before + waiting_room.margin()
    assert attempt.deadline_at - attempt.started_at == timedelta(seconds=600)
    detail = AttemptEvent.objects.get(attempt=attempt).detail
    assert detail.items() >= {"synchronized": True, "late_seat": True, "allotted_seconds": 600}.items()


def test_only_enrolled_students_with_the_code_are_seated(room_exam, make_user, proctor):
    enrolled, no_code, outsider = make_user(), make_user(), make_user()
    Enrollment.objects.bulk_create([Enrollment(exam=room_exam, user=u) for u in (enrolled, no_code)])
    room_exam.start_code = "4711"
    room_exam.save()
    checked_in(room_exam, enrolled, outsider)
    CheckIn.objects.create(exam=room_exam, user=no_code, arrived_at=clock.now())
    waiting_room.start_now(exam_id=room_exam.pk, by=proctor)
    seating = waiting_room.seat_students(exam_id=room_exam.pk, user_ids=[enrolled.pk, no_code.pk, outsider.pk])
    assert [a.user_id for a in seating.attempts] == [enrolled.pk]


def test_start_codes_are_checked_and_guessing_is_locked_out(room_exam, student):
    room_exam.start_code = "AB 12"
    room_exam.save()
    view = waiting_room.open_room(user_id=student.pk, exam_id=room_exam.pk)
    assert view.code_required and not view.code_accepted
    for left in (4, 3, 2, 1):
        with pytest.raises(ServiceError) as wrong:
            waiting_room.enter_start_code(user=student, exam_id=room_exam.pk, code="0000")
        assert wrong.value.code == "wrong_start_code" and f"{left} tr" in wrong.value.message
    with pytest.raises(ServiceError) as locked:
        waiting_room.enter_start_code(user=student, exam_id=room_exam.pk, code="0000")
    assert (locked.value.code, locked.value.status) == ("start_code_locked", 429)
    # Locked: even the right code waits.
    with pytest.raises(ServiceError) as still:
        waiting_room.enter_start_code(user=student, exam_id=room_exam.pk, code="ab12")
    assert still.value.code == "start_code_locked"
    CheckIn.objects.filter(user=student).update(code_locked_until=clock.now() - timedelta(seconds=1))
    assert waiting_room.enter_start_code(user=student, exam_id=room_exam.pk, code=" ab12 ").code_accepted


def test_the_rest_start_of_a_started_exam_needs_the_code(room_exam, student, proctor, client_for):
    room_exam.start_code = "4711"
    room_exam.started_at = clock.now() - timedelta(seconds=5)
    room_exam.save()
    refused = client_for(student).post(f"/api/exam/timer/start/{room_exam.pk}/")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "start_code_required")
    # The code, entered after the start, starts the late arrival's attempt at once; REST resumes it.
    view = waiting_room.enter_start_code(user=student, exam_id=room_exam.pk, code="4711")
    resumed = client_for(student).post(f"/api/exam/timer/start/{room_exam.pk}/")
    assert (resumed.status_code, resumed.json()["attempt_id"]) == (200, view.seating.attempts[0].pk)


def test_a_late_arrival_starts_on_their_own_when_they_open_the_room(room_exam, student):
    room_exam.started_at = clock.now() - timedelta(seconds=30)
    room_exam.save()
    view = waiting_room.open_room(user_id=student.pk, exam_id=room_exam.pk)
    attempt = view.seating.attempts[0]
    assert attempt.started_at > room_exam.started_at  # their own start (the late-start policy's to judge)
    assert waiting_room.open_room(user_id=student.pk, exam_id=room_exam.pk).seating.attempts[0].pk == attempt.pk


def test_proctor_rest_room_and_start_now(room_exam, make_user, proctor, client_for):
    client = client_for(proctor)
    starts = clock.now() + timedelta(minutes=5)
    configured = client.post(
        f"/api/proctor/exams/{room_exam.pk}/room/",
        {"waiting_room": True, "starts_at": clock.iso(starts), "start_code": "x9"},
        format="json",
    ).json()
    assert (configured["scheduled_at"], configured["start_code"]) == (clock.iso(starts), "x9")
    checked_in(room_exam, make_user(), make_user())
    assert client.get(f"/api/proctor/exams/{room_exam.pk}/room/").json()["ready"] == 2
    started = client.post(f"/api/proctor/exams/{room_exam.pk}/start-now/")
    assert started.status_code == 200 and started.json()["started_at"] is not None
    again = client.post(f"/api/proctor/exams/{room_exam.pk}/start-now/")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "exam_already_started")
    late = client.post(
        f"/api/proctor/exams/{room_exam.pk}/room/",
        {"waiting_room": True, "starts_at": None, "start_code": ""},
        format="json",
    )
    assert (late.status_code, late.json()["error"]["code"]) == (409, "exam_already_started")


def test_start_now_on_an_exam_without_a_room_is_refused(exam, proctor, client_for):
    reply = client_for(proctor).post(f"/api/proctor/exams/{exam.pk}/start-now/")
    assert (reply.status_code, reply.json()["error"]["code"]) == (409, "no_waiting_room")


@pytest.mark.django_db(transaction=True)
def test_racing_seatings_of_the_same_students_make_one_attempt_each(make_exam, make_user, proctor):
    """Two processes (or a student's two tabs on two processes) seat the same students at once."""
    exam = make_exam(duration=600, waiting_room=True)
    students = [make_user() for _ in range(40)]
    checked_in(exam, *students)
    waiting_room.start_now(exam_id=exam.pk, by=proctor)
    results, barrier = [], threading.Barrier(4)

    def seat(ids):
        barrier.wait()
        try:
            results.append(waiting_room.seat_students(exam_id=exam.pk, user_ids=ids))
        finally:
            connection.close()

    ids = [s.pk for s in students]
    threads = [threading.Thread(target=seat, args=(ids[i::2] + ids[: 20 * (i % 2)],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    assert Attempt.objects.filter(exam=exam).count() == 40
    assert AttemptEvent.objects.filter(attempt__exam=exam, kind=EventKind.STARTED).count() == 40
    # Every call answered each of its students with the one attempt the database holds.
    truth = dict(Attempt.objects.filter(exam=exam).values_list("user_id", "pk"))
    for seating in results:
        assert all(truth[a.user_id] == a.pk for a in seating.attempts)
