"""Issue 11 §4-5 on the sockets: the hand-in window (`overdue`) and pauses, through
`WebsocketCommunicator` on the real ASGI app, the real channel layer and the real database;
the ticker's backup expiry by hand (`Ticker.tick()`)."""

import asyncio
from datetime import datetime, timedelta

import pytest
from channels.db import database_sync_to_async

from exams import clock, services, time_control
from exams.models import AtDeadline, Attempt, AttemptStatus, EventKind, ExpiryPath
from realtime.ticker import Ticker
from tests.realtime.test_consumers import attempt_path, frame_of, next_frame, open_socket, request
from tests.realtime.test_ticker import Socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_layer")]

HAND_IN = 30

start_attempt = database_sync_to_async(services.start_attempt)
expire_attempts = database_sync_to_async(services.expire_attempts)


@database_sync_to_async
def _move_deadline(attempt_id: int, seconds_from_now: float) -> None:
    Attempt.objects.filter(pk=attempt_id).update(deadline_at=clock.now() + timedelta(seconds=seconds_from_now))


@database_sync_to_async
def _status(attempt_id: int) -> str:
    return Attempt.objects.get(pk=attempt_id).status


@pytest.fixture
def hand_in_exam(make_exam):
    return make_exam(at_deadline=AtDeadline.HAND_IN, hand_in_seconds=HAND_IN)


async def test_the_socket_hears_overdue_then_its_submit_is_taken(student, hand_in_exam):
    attempt = (await start_attempt(user=student, exam_id=hand_in_exam.pk)).attempt
    comm = await open_socket(attempt_path(attempt.pk), student)
    assert (await next_frame(comm, skip_ticks=False))["status"] == "ongoing"

    await _move_deadline(attempt.pk, -1)
    await expire_attempts(attempt_ids=[attempt.pk], path=ExpiryPath.SWEEPER)
    overdue = await frame_of(comm, "overdue")
    assert overdue["status"] == "overdue" and overdue["hand_in_until"] > overdue["deadline"]

    refused = await request(comm, {"type": "answer", "question_id": 1, "selected_option": "A", "request_id": 1})
    assert refused["type"] == "error" and refused["code"] == "time_up"
    ended = await request(comm, {"type": "submit", "request_id": 2})
    assert ended["type"] == "submitted" and ended["status"] == "completed"
    await comm.disconnect()


async def test_connecting_to_an_overdue_attempt_says_so(student, hand_in_exam):
    attempt = (await start_attempt(user=student, exam_id=hand_in_exam.pk)).attempt
    await _move_deadline(attempt.pk, -1)
    await expire_attempts(attempt_ids=[attempt.pk], path=ExpiryPath.SWEEPER, notify=False)

    comm = await open_socket(attempt_path(attempt.pk), student)
    timer = await next_frame(comm, skip_ticks=False)
    assert timer["type"] == "timer" and timer["status"] == "overdue" and timer["remaining_seconds"] == 0
    assert (await next_frame(comm, skip_ticks=False))["type"] == "overdue"
    await comm.disconnect()


@pytest.fixture
async def ticker(settings):
    settings.EXAM = {**settings.EXAM, "TICK_SECONDS": 3600.0, "ON_ACCESS_SLACK_SECONDS": 1.0}
    ticker = Ticker({})
    yield ticker
    await ticker.settled()
    for task in asyncio.all_tasks():
        if task.get_name() == "exam-ticker":
            task.cancel()


async def test_the_ticker_sends_no_frames_in_the_window_and_settles_it_at_its_end(ticker, student, hand_in_exam):
    attempt = (await start_attempt(user=student, exam_id=hand_in_exam.pk)).attempt
    await _move_deadline(attempt.pk, -1)
    await expire_attempts(attempt_ids=[attempt.pk], path=ExpiryPath.SWEEPER, notify=False)
    attempt = await database_sync_to_async(Attempt.objects.get)(pk=attempt.pk)
    socket = Socket()
    ticker.sockets[attempt.pk] = {socket}

    ticker.follow(attempt.pk, attempt.hand_in_until, quiet=True)
    await ticker.tick()
    await ticker.settled()
    assert socket.frames == [] and socket.resyncs == []
    assert await _status(attempt.pk) == AttemptStatus.OVERDUE

    # The window's end passed and no end reached this process: the ticker settles it.
    ended_window = clock.now() - timedelta(seconds=3)
    await database_sync_to_async(Attempt.objects.filter(pk=attempt.pk).update)(hand_in_until=ended_window)
    ticker.follow(attempt.pk, ended_window, quiet=True)
    await ticker.tick()
    await ticker.settled()
    assert socket.resyncs == [(attempt.pk, AttemptStatus.TIMEOUT)]
    kinds = await database_sync_to_async(lambda: list(attempt.events.values_list("kind", "path").order_by("id"))[-2:])()
    assert kinds == [(EventKind.OVERDUE, ExpiryPath.SWEEPER), (EventKind.TIMED_OUT, ExpiryPath.ON_ACCESS)]


# --- Pause and resume on the sockets -----------------------------------------------------------

pause = database_sync_to_async(time_control.pause)
resume = database_sync_to_async(time_control.resume)


async def test_the_student_hears_paused_then_resumed_with_the_moved_deadline(student, proctor, exam):
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    comm = await open_socket(attempt_path(attempt.pk), student)
    first = await next_frame(comm, skip_ticks=False)

    await pause(by=proctor, exam_id=exam.pk, category="environment", note="Fire alarm")
    paused = await frame_of(comm, "paused")
    assert (paused["category"], paused["note"]) == ("environment", "Fire alarm") and paused["paused_at"]
    refused = await request(comm, {"type": "answer", "question_id": 1, "selected_option": "A", "request_id": 1})
    assert (refused["type"], refused["code"], refused["request_id"]) == ("error", "attempt_paused", 1)
    refused = await request(comm, {"type": "submit", "request_id": 2})
    assert refused["code"] == "attempt_paused"

    await asyncio.sleep(0.3)
    await resume(by=proctor, exam_id=exam.pk)
    resumed = await frame_of(comm, "resumed")
    moved = datetime.fromisoformat(resumed["deadline"]) - datetime.fromisoformat(first["deadline"])
    # Exactly the paused time (to the millisecond the frames carry).
    assert abs(moved - timedelta(milliseconds=resumed["paused_ms"])) <= timedelta(milliseconds=1)
    assert "paused_at" not in resumed
    # Ticks run again, on the moved deadline.
    tick = await frame_of(comm, "timer")
    assert tick["deadline"] == resumed["deadline"]
    await comm.disconnect()


async def test_connecting_to_a_paused_attempt_gives_its_frozen_state_and_the_reason(student, proctor, exam):
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    await pause(by=proctor, exam_id=exam.pk, category="technical", note="Network", attempt_ids=[attempt.pk])

    comm = await open_socket(attempt_path(attempt.pk), student)
    timer = await next_frame(comm, skip_ticks=False)
    assert timer["type"] == "timer" and timer["paused_at"]
    paused = await next_frame(comm, skip_ticks=False)
    assert paused["type"] == "paused" and paused["note"] == "Network"
    # Ticks go on while paused, the time left standing still (the deadline moves with the clock).
    tick = await frame_of(comm, "timer")
    assert tick["paused_at"] == timer["paused_at"] and tick["remaining_seconds"] == timer["remaining_seconds"]
    assert tick["deadline"] > timer["deadline"]
    await resume(by=proctor, exam_id=exam.pk, attempt_ids=[attempt.pk])
    resumed = await frame_of(comm, "resumed")
    assert "paused_at" not in resumed and resumed["remaining_seconds"] == timer["remaining_seconds"]
    await comm.disconnect()


async def test_the_proctor_pauses_and_changes_time_over_the_socket(student, proctor, exam):
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    room = await open_socket(f"/ws/proctor/exams/{exam.pk}/", proctor)
    assert (await next_frame(room))["type"] == "snapshot"

    ack = await request(room, {"type": "pause", "category": "staff", "request_id": "p"})
    assert (ack["type"], ack["action"], ack["attempt_ids"]) == ("ack", "pause", [attempt.pk])
    assert (await frame_of(room, "attempt_paused"))["attempt"]["paused_at"]
    assert (await frame_of(room, "exam_paused"))["category"] == "staff"

    ack = await request(room, {"type": "change_time", "unit": "minutes", "amount": 5, "request_id": "c"})
    assert (ack["action"], ack["changed"]) == ("change_time", 1)
    assert (await frame_of(room, "time_changed"))["attempt"]["extra_seconds"] == 300

    ack = await request(room, {"type": "resume", "close": "keep"})
    assert ack["action"] == "resume" and ack["exam_paused_at"] is None
    assert "paused_at" not in (await frame_of(room, "attempt_resumed"))["attempt"]
    await room.send_json_to({"type": "resume", "request_id": "again"})
    refused = await frame_of(room, "error")
    assert (refused["code"], refused["request_id"]) == ("not_paused", "again")
    await room.disconnect()


async def test_an_exam_wide_extension_reaches_every_student_socket(student, make_user, proctor, exam):
    users = [student] + [await database_sync_to_async(make_user)() for _ in range(3)]
    comms = []
    for user in users:
        attempt = (await start_attempt(user=user, exam_id=exam.pk)).attempt
        comms.append(await open_socket(attempt_path(attempt.pk), user))
        await next_frame(comms[-1], skip_ticks=False)

    await database_sync_to_async(time_control.change_time)(by=proctor, exam_id=exam.pk, unit="minutes", amount=2)
    for comm in comms:
        assert (await frame_of(comm, "extended"))["added_seconds"] == 120
    await database_sync_to_async(time_control.change_time)(by=proctor, exam_id=exam.pk, unit="minutes", amount=-1)
    for comm in comms:
        shortened = await frame_of(comm, "timer")
        while shortened["remaining_seconds"] > 90:  # a tick of the old deadline sent meanwhile
            shortened = await frame_of(comm, "timer")
        await comm.disconnect()


async def test_the_ticker_settle_leaves_a_paused_attempt_ongoing(ticker, student, proctor, exam):
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    await pause(by=proctor, exam_id=exam.pk, category="examinee", attempt_ids=[attempt.pk])
    # This process missed the `paused` event and still follows the old deadline, long past.
    await _move_deadline(attempt.pk, -30)
    socket = Socket()
    ticker.sockets[attempt.pk] = {socket}
    ticker.follow(attempt.pk, clock.now() - timedelta(seconds=30))

    await ticker.tick()
    await ticker.settled()

    assert socket.resyncs == [(attempt.pk, AttemptStatus.ONGOING)]  # the real socket then stops following
    assert await _status(attempt.pk) == AttemptStatus.ONGOING


async def test_the_socket_extend_past_the_close_takes_close_move_or_keep(student, proctor, make_exam):
    """The socket's `extend` speaks the same past-close words as REST, `change_time` and `reopen`."""
    exam = await database_sync_to_async(make_exam)(duration=600, closes_at=clock.now() + timedelta(minutes=12))
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    room = await open_socket(f"/ws/proctor/exams/{exam.pk}/", proctor)
    assert (await next_frame(room))["type"] == "snapshot"
    extend = {"type": "extend", "attempt_id": attempt.pk, "seconds": 5 * 60}

    refused = await request(room, {**extend, "request_id": "a"})
    assert refused["code"] == "past_close" and "This runs 3 min past the close" in refused["message"]
    assert "close=move" in refused["message"] and "close=keep" in refused["message"]
    assert (await request(room, {**extend, "close": "clamp", "request_id": "b"}))["code"] == "invalid"
    assert (await request(room, {**extend, "move_close": True, "request_id": "b2"}))["code"] == "past_close"

    await room.send_json_to({**extend, "close": "keep", "request_id": "c"})
    kept = await frame_of(room, "ack")
    assert kept["request_id"] == "c" and kept["deadline"] == clock.iso(attempt.close_at)
    await room.send_json_to({**extend, "seconds": 60, "close": "move", "request_id": "d"})
    moved = await frame_of(room, "ack")
    after = await database_sync_to_async(Attempt.objects.get)(pk=attempt.pk)
    assert moved["deadline"] == clock.iso(after.deadline_at) == clock.iso(after.close_at)
    assert after.deadline_at == attempt.deadline_at + timedelta(minutes=6)
    await room.disconnect()
