"""A socket that is closing while the server sends to it: the hub, the ticker and presence let go.

Daphne's stack raises autobahn's `Disconnected` from the ASGI `send` of a socket in its
closing handshake; `ClosingSend` does the same around the real application, so everything
else here is real (consumers, hub, ticker, the Redis channel layer and presence).
"""

import asyncio
import time
from datetime import timedelta

import pytest
from autobahn.exception import Disconnected
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from exams import clock, presence
from exams.models import Attempt, AttemptEvent, EventKind
from project.asgi import application
from realtime.hub import get_hub
from realtime.ticker import get_ticker
from tests.conftest import token_for
from tests.support.db_locks import writes_held

from .test_consumers import (
    ORIGIN,
    WAIT,
    attempt_path,
    extend_attempt,
    frame_of,
    next_frame,
    open_socket,
    parse,
    proctor_path,
    start_attempt,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_layer")]


class ClosingSend:
    """The ASGI application, whose `send` raises `Disconnected` once `closing` is set."""

    def __init__(self, app) -> None:
        self.app = app
        self.closing = False
        self.refused = 0

    async def __call__(self, scope, receive, send):
        async def send_or_raise(message):
            if self.closing:
                self.refused += 1
                raise Disconnected("Attempt to send on a closed protocol")
            await send(message)

        return await self.app(scope, receive, send_or_raise)


async def open_closing_socket(path: str, user) -> tuple[WebsocketCommunicator, ClosingSend]:
    app = ClosingSend(application)
    comm = WebsocketCommunicator(app, f"{path}?token={token_for(user)}", headers=ORIGIN)
    connected, _ = await comm.connect(timeout=WAIT)
    assert connected
    await next_frame(comm, skip_ticks=False)  # the snapshot
    return comm, app


async def test_a_broadcast_to_a_closing_socket_leaves_no_ghost(student, proctor, exam):
    """Issue 8 §2: `Disconnected` from a broadcast's send used to skip `disconnect()` and leak
    the socket's presence entry and ticker entry."""
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    desk = await open_socket(proctor_path(exam.pk), proctor)
    await next_frame(desk)  # snapshot
    comm, app = await open_closing_socket(attempt_path(attempt.pk), student)
    assert (await next_frame(desk))["type"] == "student_connected"
    # Right after a tick, so the broadcast is the first send to meet the closing socket.
    await frame_of(comm, "timer", timeout=2)

    app.closing = True
    await extend_attempt(attempt_id=attempt.pk, seconds=30, by=proctor)

    # The proctor hears of the extension, then that the student is gone.
    assert (await next_frame(desk))["type"] == "attempt_extended"
    event = await next_frame(desk)
    assert (event["type"], event["attempt"]["attempt_id"], event["attempt"]["connected"]) == (
        "student_disconnected",
        attempt.pk,
        False,
    )
    assert app.refused >= 1
    assert attempt.pk not in get_hub().students
    assert attempt.pk not in get_ticker().frames
    assert await asyncio.to_thread(presence.connected_map, [attempt.pk]) == {attempt.pk: False}
    kinds = await database_sync_to_async(
        lambda: list(
            AttemptEvent.objects.filter(
                attempt=attempt, kind__in=[EventKind.CONNECTED, EventKind.DISCONNECTED]
            ).values_list("kind", flat=True)
        )
    )()
    assert kinds == [EventKind.CONNECTED, EventKind.DISCONNECTED]
    # The browser's side of the close still ends the consumer cleanly.
    await comm.disconnect()
    await desk.disconnect()


async def test_a_tick_reaches_every_socket_when_one_send_fails(make_user, exam):
    """Issue 8 §2: one socket's failed send used to abort the whole tick for the sockets after it."""
    first, second = await database_sync_to_async(lambda: (make_user(), make_user()))()
    broken_attempt = (await start_attempt(user=first, exam_id=exam.pk)).attempt
    healthy_attempt = (await start_attempt(user=second, exam_id=exam.pk)).attempt
    # Opened first, so each tick comes to the broken socket before the healthy one.
    broken, app = await open_closing_socket(attempt_path(broken_attempt.pk), first)
    healthy = await open_socket(attempt_path(healthy_attempt.pk), second)
    await next_frame(healthy, skip_ticks=False)

    app.closing = True
    failing_since = clock.now()
    ticks = []
    while len(ticks) < 2:
        tick = await frame_of(healthy, "timer", timeout=2)
        if parse(tick["server_time"]) > failing_since:
            ticks.append(tick)

    assert app.refused >= 1  # the broken socket's tick was tried, and failed
    assert [t["attempt_id"] for t in ticks] == [healthy_attempt.pk] * 2
    assert ticks[1]["remaining_seconds"] == ticks[0]["remaining_seconds"] - 1
    await broken.disconnect()
    await healthy.disconnect()


async def test_a_late_beat_alone_resyncs_nothing(student, proctor, exam):
    """A beat late because the event loop was busy (a large exam's fan-out) lost no events: only a
    failed call of the hub's own or forgotten data make it resync every socket (resyncing on lateness
    re-read every socket from the database under the very load that made the beat late). Here the
    last beat is moved back and the deadline moved in the database without an event: the socket
    must not hear of it before the next real event, sent after that beat."""
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    comm = await open_socket(attempt_path(attempt.pk), student)
    try:
        first = await frame_of(comm, "timer")
        hub = get_hub()
        while hub._last_beat is None:
            await asyncio.sleep(0.05)  # polling the hub's own state: its first beat has no event
        moved = clock.now() + timedelta(minutes=30)
        await database_sync_to_async(lambda: Attempt.objects.filter(pk=attempt.pk).update(deadline_at=moved))()
        late = hub._last_beat - 10 * presence.HEARTBEAT_SECONDS
        hub._last_beat = late
        while hub._last_beat == late:
            await asyncio.sleep(0.05)  # the late beat has run (and would have resynced by now)
        await extend_attempt(attempt_id=attempt.pk, seconds=60, by=proctor)
        while (frame := await next_frame(comm, skip_ticks=False))["type"] != "extended":
            assert frame.get("deadline") in (None, first["deadline"]), frame
    finally:
        await comm.disconnect()


async def test_presence_recorded_slowly_does_not_hold_up_the_beat(student, exam):
    """Recording presence waits on the database (here: its table's writes held); the beat goes on
    meanwhile (a hung Redis is then still noticed by the beat's own bounded calls), and the
    connection is recorded once the database lets it."""
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    hub = get_hub()
    with writes_held(AttemptEvent._meta.db_table):
        comm = await open_socket(attempt_path(attempt.pk), student)
        await frame_of(comm, "timer")
        connected = database_sync_to_async(presence.connected_map)
        while not (await connected([attempt.pk]))[attempt.pk]:
            await asyncio.sleep(0.05)  # the flush reported it to Redis; recording it now waits
        beat = hub._last_beat
        end = time.monotonic() + 3 * presence.HEARTBEAT_SECONDS
        while hub._last_beat == beat:
            # Before the fix, the beat waited for the recording: none came while the writes were held.
            assert time.monotonic() < end, "no beat while presence waited for the database"
            await asyncio.sleep(0.05)
        events = database_sync_to_async(
            lambda: list(AttemptEvent.objects.filter(attempt=attempt).values_list("kind", flat=True))
        )
    try:
        end = time.monotonic() + WAIT
        while EventKind.CONNECTED not in await events():
            assert time.monotonic() < end, "the connection was never recorded"
            await asyncio.sleep(0.05)
    finally:
        await comm.disconnect()
