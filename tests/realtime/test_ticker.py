"""The ticker (`realtime/ticker.py`): frames, none past the deadline, and its backup expiry (the settle).

The tests tick by hand (`Ticker.tick()`), against the real database; its own loop is left asleep.
The sockets are stand-ins recording the two calls the ticker makes on a student socket: the
real consumer's side is tested in test_consumers.py (on-access expiry without a listener).
"""

import asyncio
import json
from datetime import datetime, timedelta

import pytest
from channels.db import database_sync_to_async

from exams import clock, deadlines
from exams.contract import builders
from exams.models import Attempt, AttemptEvent, AttemptStatus, EventKind, ExpiryPath
from realtime.ticker import Ticker, _Frame
from tests.support.contract_check import check_frame

pytestmark = pytest.mark.django_db(transaction=True)


class Socket:
    """What the ticker calls on a student socket: `send_tick` each tick, `resync` after a settle."""

    def __init__(self, *, failing_resyncs: int = 0) -> None:
        self.frames: list[dict] = []
        self.resyncs: list[tuple[int, str]] = []
        self.failing_resyncs = failing_resyncs

    async def send_tick(self, message: dict) -> None:
        assert message["type"] == "websocket.send"
        self.frames.append(check_frame("student", json.loads(message["text"])))

    async def resync(self, attempt: Attempt) -> None:
        if self.failing_resyncs:
            self.failing_resyncs -= 1
            raise ConnectionError("the socket's send failed")
        self.resyncs.append((attempt.pk, attempt.status))


@pytest.fixture
async def ticker(settings):
    # Its own loop sleeps until the next hour boundary: only the test's ticks run.
    settings.EXAM = {**settings.EXAM, "TICK_SECONDS": 3600.0}
    ticker = Ticker({})
    yield ticker
    await ticker.settled()
    for task in asyncio.all_tasks():
        if task.get_name() == "exam-ticker":
            task.cancel()


def watch(ticker: Ticker, attempt_id: int, deadline: datetime, *sockets: Socket) -> None:
    """`sockets` hold the attempt (as the hub would) and the ticker follows it."""
    ticker.sockets.setdefault(attempt_id, set()).update(sockets)
    ticker.follow(attempt_id, deadline)


@database_sync_to_async
def make_attempt(user, exam, *, seconds_from_now: float, number: int = 1) -> Attempt:
    now = clock.now()
    return Attempt.objects.create(
        user=user,
        exam=exam,
        number=number,
        started_at=now - timedelta(minutes=5),
        deadline_at=now + timedelta(seconds=seconds_from_now),
    )


@database_sync_to_async
def move_deadline(attempt: Attempt, *, seconds_from_now: float) -> datetime:
    deadline = clock.now() + timedelta(seconds=seconds_from_now)
    Attempt.objects.filter(pk=attempt.pk).update(deadline_at=deadline)
    return deadline


@database_sync_to_async
def state(attempt: Attempt) -> tuple[str, list[tuple[str, str]]]:
    """The attempt's status and its (kind, path) timeout events."""
    events = AttemptEvent.objects.filter(attempt=attempt, kind=EventKind.TIMED_OUT).values_list("kind", "path")
    return Attempt.objects.get(pk=attempt.pk).status, list(events)


# --- Frames ------------------------------------------------------------------------------


async def test_a_tick_sends_each_socket_its_attempts_frame(ticker, student, exam):
    first = await make_attempt(student, exam, seconds_from_now=30)
    second = await make_attempt(student, exam, seconds_from_now=90.5, number=2)
    a, b, c = Socket(), Socket(), Socket()
    watch(ticker, first.pk, first.deadline_at, a, b)
    watch(ticker, second.pk, second.deadline_at, c)

    assert await ticker.tick() == 3

    assert a.frames == b.frames and len(a.frames) == 1
    for socket, attempt in ((a, first), (c, second)):
        (frame,) = socket.frames
        at = datetime.fromisoformat(frame["server_time"])
        assert frame == builders.tick_frame(attempt.pk, attempt.deadline_at, at)
        assert frame["remaining_seconds"] == deadlines.remaining_seconds(attempt.deadline_at, at)


async def test_no_frames_for_an_attempt_no_socket_holds_or_no_longer_followed(ticker, student, exam):
    attempt = await make_attempt(student, exam, seconds_from_now=30)
    socket = Socket()
    watch(ticker, attempt.pk, attempt.deadline_at, socket)
    ticker.stop_following(attempt.pk)
    assert await ticker.tick() == 0

    ticker.follow(attempt.pk, attempt.deadline_at)
    ticker.sockets[attempt.pk].clear()  # its last socket closed
    assert await ticker.tick() == 0
    assert attempt.pk not in ticker.frames
    assert socket.frames == []


async def test_no_frames_past_the_deadline_and_no_settle_before_the_settle_point(ticker, student, exam):
    # Default grace (0) and slack (2 s): half a second past the deadline the listener is still due to act.
    late = await make_attempt(student, exam, seconds_from_now=-0.5)
    live = await make_attempt(student, exam, seconds_from_now=30, number=2)
    late_socket, live_socket = Socket(), Socket()
    watch(ticker, late.pk, late.deadline_at, late_socket)
    watch(ticker, live.pk, live.deadline_at, live_socket)

    assert await ticker.tick() == 1
    await ticker.settled()

    # The live attempt's frame went out in the same tick; the late one got nothing: no "0 s left"
    # frame, no settle (its row is untouched).
    assert len(live_socket.frames) == 1
    assert late_socket.frames == [] and late_socket.resyncs == []
    assert await state(late) == (AttemptStatus.ONGOING, [])


@pytest.mark.parametrize(
    "left",
    [
        timedelta(seconds=5),
        timedelta(seconds=5, microseconds=1),
        timedelta(seconds=4, microseconds=999_999),
        timedelta(milliseconds=1),
        timedelta(0),
        -timedelta(seconds=3),
        timedelta(hours=30, milliseconds=123),
    ],
)
def test_tick_frames_match_the_timer_message(left):
    """The ticker's pre-encoded frame is exactly the builder's `timer` frame (ties included)."""
    now = clock.now().replace(microsecond=3000)
    frame = _Frame(42, now + left)
    text = frame.text(clock.to_us(now), json.dumps(clock.iso(now)))
    assert json.loads(text) == builders.tick_frame(42, now + left, now)
    assert json.loads(text)["remaining_seconds"] == deadlines.remaining_seconds(now + left, now)


# --- The backup expiry: settle --------------------------------------------------------------


@pytest.fixture
def grace_over_slack(settings):
    """ANSWER_GRACE_SECONDS >= ON_ACCESS_SLACK_SECONDS: an attempt is past deadline + slack long before it is due."""
    settings.EXAM = {**settings.EXAM, "ANSWER_GRACE_SECONDS": 10.0, "ON_ACCESS_SLACK_SECONDS": 1.0}


async def test_settle_waits_for_the_grace_then_times_the_attempt_out(ticker, grace_over_slack, student, exam):
    attempt = await make_attempt(student, exam, seconds_from_now=-5)  # past deadline + slack, inside the grace
    socket = Socket()
    watch(ticker, attempt.pk, attempt.deadline_at, socket)

    await ticker.tick()
    await ticker.settled()
    assert await state(attempt) == (AttemptStatus.ONGOING, [])
    assert socket.resyncs == [] and socket.frames == []

    # Time passes: now past deadline + grace + slack (set by the deadline, in the database and in memory).
    deadline = await move_deadline(attempt, seconds_from_now=-12)
    watch(ticker, attempt.pk, deadline, socket)
    await ticker.tick()
    await ticker.settled()

    assert await state(attempt) == (AttemptStatus.TIMEOUT, [(EventKind.TIMED_OUT, ExpiryPath.ON_ACCESS)])
    assert socket.resyncs == [(attempt.pk, AttemptStatus.TIMEOUT)]


async def test_an_early_settle_is_tried_again_later(ticker, grace_over_slack, student, exam):
    """The socket process missed an extension: its deadline says settle, the database says not due yet."""
    attempt = await make_attempt(student, exam, seconds_from_now=60)
    socket = Socket()
    watch(ticker, attempt.pk, clock.now() - timedelta(seconds=12), socket)

    await ticker.tick()
    await ticker.settled()
    assert await state(attempt) == (AttemptStatus.ONGOING, [])
    assert socket.resyncs == [(attempt.pk, AttemptStatus.ONGOING)]  # the real socket follows the new deadline

    # The extension is used up too: the next settle times it out (the attempt is not stuck as "being settled").
    await move_deadline(attempt, seconds_from_now=-12)
    await ticker.tick()
    await ticker.settled()
    assert await state(attempt) == (AttemptStatus.TIMEOUT, [(EventKind.TIMED_OUT, ExpiryPath.ON_ACCESS)])
    assert socket.resyncs[-1] == (attempt.pk, AttemptStatus.TIMEOUT)


async def test_a_failed_settle_is_tried_again_at_the_next_tick(ticker, grace_over_slack, student, exam):
    attempt = await make_attempt(student, exam, seconds_from_now=-12)
    socket = Socket(failing_resyncs=1)
    watch(ticker, attempt.pk, attempt.deadline_at, socket)

    await ticker.tick()
    await ticker.settled()
    assert await state(attempt) == (AttemptStatus.TIMEOUT, [(EventKind.TIMED_OUT, ExpiryPath.ON_ACCESS)])
    assert socket.resyncs == []  # timed out, but the socket wasn't told

    await ticker.tick()
    await ticker.settled()
    assert socket.resyncs == [(attempt.pk, AttemptStatus.TIMEOUT)]


# --- A fan-out goes before the rest of a tick -----------------------------------------------


async def test_a_tick_waits_for_a_fan_out_and_skips_the_attempts_it_told(ticker, student, exam):
    """An exam-wide extension delivered during a tick: the tick stops at its next yield until the
    hub is quiet again, and does not send the attempts remade meanwhile the tick they no longer need."""
    ticker.quiet = asyncio.Event()  # the hub is handing out a fan-out message
    attempts = [await make_attempt(student, exam, seconds_from_now=600, number=n) for n in range(150)]
    sockets = {a.pk: Socket() for a in attempts}
    for a in attempts:
        watch(ticker, a.pk, a.deadline_at, sockets[a.pk])
    tick = asyncio.create_task(ticker.tick())
    while sum(len(s.frames) for s in sockets.values()) < 100:  # the first slice (SLICE)
        await asyncio.sleep(0)
    extended, untold = attempts[100:], attempts[:100]
    later = {a.pk: a.deadline_at + timedelta(minutes=5) for a in extended}
    for a in extended:  # as each socket's `extended` frame does (consumers._follow)
        ticker.follow(a.pk, later[a.pk])
    ticker.quiet.set()

    assert await tick == 100
    assert all(sockets[a.pk].frames == [] for a in extended)
    # The next tick, which must come, ticks them all, with the deadline they were told.
    assert await ticker.tick() == 150
    assert [sockets[a.pk].frames[-1]["deadline"] for a in extended] == [clock.iso(d) for d in later.values()]
    assert all(len(sockets[a.pk].frames) == 2 for a in untold)


class CountedEvent(asyncio.Event):
    """The hub's `quiet`, counting the ticker's waits on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waits = 0

    async def wait(self) -> bool:
        self.waits += 1
        return await super().wait()


async def test_a_tick_waits_for_a_fan_out_only_so_long_in_all(ticker, student, exam, monkeypatch):
    monkeypatch.setattr("realtime.ticker.DELIVERY_WAIT_SECONDS", 0.05)
    ticker.quiet = CountedEvent()  # a delivery that never ends (a waiting room's seating on a hung database)
    attempts = [await make_attempt(student, exam, seconds_from_now=600, number=n) for n in range(450)]
    for a in attempts:
        watch(ticker, a.pk, a.deadline_at, Socket())
    assert await ticker.tick() == 450
    # Four slices found the hub busy: the first waited the whole allowance, the others not at all.
    assert ticker.quiet.waits == 1


async def test_the_hub_is_not_quiet_while_it_hands_out_a_fan_out_message():
    from realtime.hub import Hub

    hub = Hub()
    seen: list[bool] = []

    class Recording:
        async def deliver(self, payload: dict) -> None:
            seen.append(hub.quiet.is_set())
            raise ConnectionError("this socket's send failed")  # one socket's failure ends nothing

    hub.students[7] = {Recording(), Recording()}
    assert hub.quiet.is_set()
    await hub.dispatch([("attempt", 7, {"type": "extended"})])
    assert seen == [False, False] and hub.quiet.is_set()
