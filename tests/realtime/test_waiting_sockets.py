"""The waiting-room sockets through `WebsocketCommunicator` on the real ASGI app, the real Redis
channel layer and the real database: the synchronized start of students who join or enter their
code while this process is already seating the room."""

import threading
import time
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async

from exams import clock, waiting_room
from exams.models import Attempt
from tests.realtime.test_consumers import WAIT, frame_of, next_frame, open_socket, request

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_layer")]


def wait_path(exam_id: int) -> str:
    return f"/ws/exams/{exam_id}/wait/"


def held_until_seated(func, *, user, first):
    """`func` (a waiting-room service) whose answer to `user` is held back until `first` has an attempt:
    the process seats the room while this student's socket is still between its read and its reply."""

    def call(**kwargs):
        view = func(**kwargs)
        if kwargs["user" if "user" in kwargs else "user_id"] in (user, user.pk):
            end = time.monotonic() + WAIT
            while not Attempt.objects.filter(user=first).exists():
                assert time.monotonic() < end, "the room was never seated"
                time.sleep(0.01)
            threading.Event().wait(0.05)  # the seating's frames go out meanwhile
        return view

    return call


@pytest.mark.parametrize("late_by", ["joining", "entering_the_code"])
async def test_a_student_who_becomes_ready_while_the_room_is_seated_is_seated_too(
    make_exam, make_user, monkeypatch, late_by
):
    """A seating takes the sockets ready (and past the code) when it begins. A socket that joined, or
    whose code was accepted, while it ran was left waiting forever; CI caught it once in a scheduled start."""
    starts = clock.now() + waiting_room.lead() + timedelta(seconds=1)
    code = "4711" if late_by == "entering_the_code" else ""
    exam = await database_sync_to_async(make_exam)(duration=600, waiting_room=True, starts_at=starts, start_code=code)
    first, late = await database_sync_to_async(make_user)(), await database_sync_to_async(make_user)()
    target = "open_room" if late_by == "joining" else "enter_start_code"
    monkeypatch.setattr(waiting_room, target, held_until_seated(getattr(waiting_room, target), user=late, first=first))
    on_time = await open_socket(wait_path(exam.pk), first)
    assert (await next_frame(on_time))["type"] == "waiting"
    if code:
        assert (await request(on_time, {"type": "start_code", "code": code}))["code_accepted"]
        late_socket = await open_socket(wait_path(exam.pk), late)
        assert (await next_frame(late_socket))["type"] == "waiting"
        await late_socket.send_json_to({"type": "start_code", "code": code})
    else:
        late_socket = await open_socket(wait_path(exam.pk), late)
    frames = [await frame_of(comm, "start", timeout=WAIT + 3) for comm in (on_time, late_socket)]
    assert {f["started_at"] for f in frames} == {clock.iso(starts)}
    assert clock.now() < starts
    for comm in (on_time, late_socket):
        await comm.disconnect()
