"""Issue 11 §4-5 on the sockets: the hand-in window (`overdue`) and pauses, through
`WebsocketCommunicator` on the real ASGI app, the real channel layer and the real database;
the ticker's backup expiry by hand (`Ticker.tick()`)."""

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async

from exams import clock, services
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
