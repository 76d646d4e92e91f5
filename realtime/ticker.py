"""One ticker task per process pushes `timer` frames to every student socket it holds.

It works from the deadlines it holds in memory (updated by `extended` and end events), so a
tick costs no Redis or database call. A frame is encoded once per attempt and sent to each
of that attempt's sockets, on second boundaries.

At thousands of sockets the per-socket cost is what matters (bench/bench_sockets.py):
- the frame's JSON is cut once per deadline into the text around the two fields that
  change, so a tick only joins strings (json.dumps per attempt was a tenth of a tick);
- frames go straight to the ASGI send (what `consumer.send(text_data=...)` ends in);
- the loop is yielded every SLICE sockets, so the writes already queued go out while the
  rest are made (the first students don't wait for the last) and other sockets' messages
  are served during a long tick;
- a change fanned out to the sockets (an exam-wide extension: 5,000 `extended` frames) goes
  before the rest of a tick: the tick waits at its next yield until the hub has handed it
  out, then skips the attempts whose frame was remade meanwhile (their sockets were just sent
  their time), so the change is not slowed by ticks that say less than it does;
- a tick keeps few objects alive for the garbage collector to promote (see project/serve.py
  on why that matters with thousands of connections).
What remains is daphne's own cost per frame (autobahn framing, Twisted's write path).
"""

import asyncio
import contextlib
import json
import logging
import math
import time
import weakref
from datetime import datetime

from django.conf import settings
from prometheus_client import Gauge, Histogram

from exams import clock, deadlines, services
from exams.contract import builders

from .db import db_call
from .hub import get_hub

logger = logging.getLogger(__name__)

# Sockets sent to between two yields to the event loop.
SLICE = 100
# The longest a tick waits, in all, for fan-out messages being delivered (5,000 `extended` frames: ~0.4 s).
DELIVERY_WAIT_SECONDS = 0.5

TICK_DURATION = Histogram(
    "exam_tick_duration_seconds",
    "From a tick's second boundary to its last frame handed to the sockets",
    buckets=(0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 2),
)
TICK_FRAMES = Gauge("exam_tick_frames", "`timer` frames sent by the last tick (this process's student sockets)")

# Stand-ins for the two fields a tick changes, found again in the encoded JSON.
_REMAINING, _SERVER_TIME = "\u0001remaining", "\u0001server_time"


class _Frame:
    """An attempt's `timer` frame, pre-encoded around `remaining_seconds` and `server_time`."""

    __slots__ = ("attempt_id", "deadline", "deadline_us", "head", "made", "middle", "paused_at", "quiet", "tail")

    def __init__(
        self, attempt_id: int, deadline: datetime, *, quiet: bool = False, paused_at: datetime | None = None
    ) -> None:
        # quiet: no frames, only the backup expiry (an overdue attempt, followed to its hand-in window's end).
        # paused_at: a paused attempt, ticked with its clock standing still and never settled.
        self.attempt_id, self.quiet, self.paused_at = attempt_id, quiet, paused_at
        self.deadline, self.deadline_us = deadline, clock.to_us(deadline)
        self.made = time.monotonic()  # when its sockets were last told their time by something else
        # Encoded at its first tick, not here: an exam-wide extension remakes 5,000 frames while it
        # is being delivered, and their sockets were just told their time (see `Ticker.tick`).
        self.head: str | None = None

    def _encode(self) -> None:
        # The shape comes from the contract's builder; only the encoding is cached here.
        fields = builders.tick_frame(self.attempt_id, self.deadline, self.deadline)
        fields.update(remaining_seconds=_REMAINING, server_time=_SERVER_TIME)
        text = json.dumps(fields)
        self.head, rest = text.split(json.dumps(_REMAINING))
        self.middle, self.tail = rest.split(json.dumps(_SERVER_TIME))

    def paused_tick(self, now: datetime) -> dict:
        assert self.paused_at is not None
        return builders.paused_tick_frame(self.attempt_id, self.deadline, self.paused_at, now)

    def text(self, now_us: int, server_time_json: str) -> str:
        if self.head is None:
            self._encode()
        remaining = deadlines.remaining_seconds_us(self.deadline_us, now_us)
        return f"{self.head}{remaining}{self.middle}{server_time_json}{self.tail}"


class Ticker:
    """The deadlines of the attempts this process's student sockets follow, and the loop that ticks them.

    The sockets themselves are the hub's (realtime/hub.py); an attempt ticks while it has a frame here.
    """

    def __init__(self, sockets: dict[int, set], quiet: asyncio.Event | None = None) -> None:
        self.sockets = sockets
        # Set when no fan-out message is being delivered (the hub's `quiet`); None: never wait.
        self.quiet = quiet
        self.frames: dict[int, _Frame] = {}
        # Settles under way, by attempt: held so the loop (which keeps only weak references) can't drop one.
        self._settling: dict[int, asyncio.Task] = {}
        self._task: asyncio.Task | None = None

    def follow(
        self, attempt_id: int, deadline: datetime, *, quiet: bool = False, paused_at: datetime | None = None
    ) -> None:
        """Tick the attempt (ongoing, with this deadline) from now on; `quiet`: send no frames, only settle
        it if no end is heard by `deadline` + grace + slack (an overdue attempt's hand-in window);
        `paused_at`: paused since then, `deadline` its deadline at the pause (ticks keep the time left)."""
        frame = self.frames.get(attempt_id)
        if frame is None or (frame.deadline, frame.quiet, frame.paused_at) != (deadline, quiet, paused_at):
            self.frames[attempt_id] = _Frame(attempt_id, deadline, quiet=quiet, paused_at=paused_at)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="exam-ticker")

    def stop_following(self, attempt_id: int) -> None:
        """The attempt ended (or no socket holds it): no more frames."""
        self.frames.pop(attempt_id, None)

    async def _run(self) -> None:
        tick = settings.EXAM["TICK_SECONDS"]
        while True:
            boundary = math.floor(time.time() / tick + 1) * tick
            # uvloop's timers have millisecond resolution and may wake a little early: a
            # frame made before the boundary would still carry the previous second.
            while (delay := boundary - time.time()) > 0:
                await asyncio.sleep(delay)
            try:
                TICK_FRAMES.set(await self.tick())
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("tick failed")
            TICK_DURATION.observe(time.time() - boundary)

    async def tick(self) -> int:
        """Send every socket its `timer` frame; returns how many were sent."""
        started = time.monotonic()
        may_wait = DELIVERY_WAIT_SECONDS  # in all, however many slices find the hub busy
        now = clock.now()
        now_us, server_time_json = clock.to_us(now), json.dumps(clock.iso(now))
        settle_before_us = deadlines.settle_cutoff_us(now_us)
        sent = total = 0
        # A list of ids, not of (id, group) tuples: ints aren't tracked by the garbage
        # collector, 5,000 tuples alive across the tick's yields would be promoted.
        for attempt_id in list(self.frames):
            group, frame = self.sockets.get(attempt_id), self.frames.get(attempt_id)
            if frame is None:  # ended while we yielded
                continue
            if not group:
                self.frames.pop(attempt_id, None)
                continue
            if frame.paused_at is not None:
                # Never due while paused: no settle; the frame is made afresh (a fire alarm's worth, rarely).
                message = {"type": "websocket.send", "text": json.dumps(frame.paused_tick(now))}
                for consumer in list(group):
                    await consumer.send_tick(message)
                sent += len(group)
                total += len(group)
                continue
            if frame.deadline_us < settle_before_us:
                # Due, and no end reached us (a lost message, Redis away): find out and tell our sockets.
                # Once settled (or failed) it is free to settle again at a later tick.
                if attempt_id not in self._settling:
                    self._settling[attempt_id] = asyncio.get_running_loop().create_task(self._settle(attempt_id))
                continue
            if frame.quiet or frame.deadline_us < now_us:
                continue  # past the deadline: no "ongoing, 0 s left" frames while the end commits
            if frame.made > started:
                continue  # remade during this tick from a frame its sockets were sent: they know their time
            message = {"type": "websocket.send", "text": frame.text(now_us, server_time_json)}
            for consumer in list(group):
                await consumer.send_tick(message)
            sent += len(group)
            total += len(group)
            if sent >= SLICE:
                # Between attempts only, so an attempt's sockets never get a frame older than
                # an `extended`/`timeout` handled during the yield.
                sent = 0
                await asyncio.sleep(0)
                if self.quiet is not None and not self.quiet.is_set() and may_wait > 0:
                    # Bounded: a delivery that waits on something (a waiting room's seating) stops no tick for long.
                    waiting = time.monotonic()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.quiet.wait(), may_wait)
                    may_wait -= time.monotonic() - waiting
                    # The rest of the tick carries the time it is sent at, not the time it began.
                    now = clock.now()
                    now_us, server_time_json = clock.to_us(now), json.dumps(clock.iso(now))
                    settle_before_us = deadlines.settle_cutoff_us(now_us)
        return total

    async def _settle(self, attempt_id: int) -> None:
        """Time the attempt out on access if due, then give its sockets the state the database holds."""
        try:
            attempt = await db_call(services.settle_attempt)(attempt_id=attempt_id)
            for consumer in list(self.sockets.get(attempt_id, ())):
                await consumer.resync(attempt)
        except Exception:
            logger.exception("settling attempt %s failed; retrying at the next tick", attempt_id)
        finally:
            del self._settling[attempt_id]

    async def settled(self) -> None:
        """Wait until the settles under way are done."""
        await asyncio.gather(*self._settling.values(), return_exceptions=True)


_tickers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Ticker]" = weakref.WeakKeyDictionary()


def existing_ticker() -> Ticker | None:
    """The running loop's ticker if it has one (without making one)."""
    return _tickers.get(asyncio.get_running_loop())


def get_ticker() -> Ticker:
    """The running loop's ticker (one per process in daphne), over the hub's student sockets."""
    loop = asyncio.get_running_loop()
    ticker = _tickers.get(loop)
    if ticker is None:
        hub = get_hub()
        ticker = _tickers[loop] = Ticker(hub.students, hub.quiet)
    return ticker
