"""A process's waiting rooms: the waiting sockets it holds, and the synchronized start of their students.

The hub (realtime/hub.py) holds one `WaitingRooms`. When an exam's start is set (a proctor's
"start now" publishes a `starting` signal to every process) or its scheduled start comes near
(a timer per exam, not per socket, armed `SYNC_START_LEAD_SECONDS` before it), the process
seats every waiting student it holds in one service call (exams/waiting_room.py:
`seat_students`, a bounded number of statements for all of them) and pushes each socket its
`start` frame: the attempt, its questions and the start instant, before that instant. The
questions are encoded once for everyone; each frame is that text spliced into the attempt's
own fields. The proctors' `attempt_started` rows follow, after the students' frames.
"""

import asyncio
import functools
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from django.db import connection

from exams import clock, notifications, review, room, waiting_room
from exams.contract import builders, room_builders
from exams.models import Exam
from exams.selectors import get_exam

from .db import db_call

if TYPE_CHECKING:
    from .hub import Hub

logger = logging.getLogger(__name__)

# Sockets served between two yields to the event loop.
SLICE = 100


class WaitingSocket(Protocol):
    user_id: int
    ready: bool
    code_accepted: bool
    seated: int | None

    async def send_start(self, text: str, attempt_id: int) -> None: ...
    async def deliver(self, payload: dict) -> None: ...


def start_texts(seating: waiting_room.Seating) -> dict[int, tuple[int, str]]:
    """user id -> (attempt id, the encoded `start` frame) for every attempt of a seating.

    The question rows of a fresh attempt are the same for all (no answers yet): encoded once and
    spliced after the attempt's own fields (builders.start_frame puts `questions` last). The fields
    before them differ between students seated together only by the attempt's id (unless their
    terms differ): encoded once per terms, around a marker the id replaces.
    """
    at = clock.now()
    fresh = json.dumps(builders.question_rows(seating.questions, {}, review.DURING_ATTEMPT))
    heads: dict[tuple, tuple[str, str]] = {}
    texts: dict[int, tuple[int, str]] = {}
    for attempt in seating.attempts:
        answers = seating.answers.get(attempt.pk)
        if answers:
            rows = json.dumps(builders.question_rows(seating.questions, answers, review.DURING_ATTEMPT))
        else:
            rows = fresh
        key = _terms(attempt)
        if key not in heads:
            heads[key] = _head(attempt, seating.exam, at)
        before, after = heads[key]
        texts[attempt.user_id] = (attempt.pk, f"{before}{attempt.pk}{after}{rows}}}")
    return texts


# Stands for the attempt id in a shared encoding: no real id is negative.
_MARKER = -7_301_947_135


def _terms(attempt) -> tuple:
    """What a `start` frame says of an attempt besides its id and questions."""
    return (
        attempt.status,
        attempt.started_at,
        attempt.deadline_at,
        attempt.paused_at,
        attempt.hand_in_until,
        attempt.allotted_seconds,
        attempt.accommodation_seconds,
        attempt.extra_seconds,
        attempt.paused_total,
        attempt.close_at,
    )


def _head(attempt, exam: Exam, at: datetime) -> tuple[str, str]:
    """The `start` frame of `attempt` without its questions, split where its id goes."""
    real = attempt.pk
    attempt.pk = _MARKER
    try:
        head = json.dumps(builders.start_frame(attempt, exam, [], at=at))
    finally:
        attempt.pk = real
    before, marker, after = head.partition(f'"attempt_id": {_MARKER}')
    assert marker and head.endswith("[]}") and str(_MARKER) not in after
    return before + '"attempt_id": ', after[:-3]


class WaitingRooms:
    def __init__(self, hub: "Hub") -> None:
        self.hub = hub
        # exam id -> user id -> that user's waiting sockets here.
        self.sockets: dict[int, dict[int, set[WaitingSocket]]] = {}
        # exam id -> (the start instant armed for, the timer that seats its students before it).
        self._armed: dict[int, tuple[datetime, asyncio.TimerHandle]] = {}
        self._seating: dict[int, asyncio.Task] = {}
        # Exams to seat again once the running seating ends (sockets that came meanwhile).
        self._again: set[int] = set()
        # Refreshes under way (held: the loop keeps only weak references to tasks).
        self._refreshing: set[asyncio.Task] = set()

    # --- sockets ---------------------------------------------------------------------------

    def add(self, socket, exam_id: int) -> bool:
        """Hold the socket; False (not held) when its user has too many sockets here already."""
        self.hub._ensure_running()
        if not self.hub.limits.admit(socket, user_id=socket.user_id, room=("waiting", exam_id)):
            return False
        self.sockets.setdefault(exam_id, {}).setdefault(socket.user_id, set()).add(socket)
        return True

    def remove(self, socket, exam_id: int) -> None:
        self.hub.limits.release(socket, user_id=socket.user_id)
        users = self.sockets.get(exam_id)
        if users is None or socket not in users.get(socket.user_id, ()):
            return
        users[socket.user_id].discard(socket)
        if not users[socket.user_id]:
            del users[socket.user_id]
        if not users:
            del self.sockets[exam_id]
            self._disarm(exam_id)

    def all_sockets(self) -> list:
        return [s for users in self.sockets.values() for group in users.values() for s in group]

    # --- the start ---------------------------------------------------------------------------

    def arm(self, exam: Exam) -> None:
        """Seat this exam's waiting students here SYNC_START_LEAD_SECONDS before its start instant.

        One timer per exam and process. A start set by a proctor also arrives as a `starting`
        signal at once; the timer is the scheduled start's trigger and the signal's backstop.
        """
        instant = exam.start_instant if exam.waiting_room else None
        armed = self._armed.get(exam.pk)
        if armed is not None and armed[0] == instant:
            return
        self._disarm(exam.pk)
        if instant is None or exam.pk not in self.sockets:
            return
        delay = (instant - waiting_room.lead() - clock.now()).total_seconds()
        handle = asyncio.get_running_loop().call_later(max(0.0, delay), self.seat_soon, exam.pk)
        self._armed[exam.pk] = (instant, handle)

    def _disarm(self, exam_id: int) -> None:
        armed = self._armed.pop(exam_id, None)
        if armed is not None:
            armed[1].cancel()

    def catch_up(self, socket: WaitingSocket, exam_id: int) -> None:
        """A socket just became ready or had its code accepted: seat it if this exam's start is due here.

        A seating takes the sockets ready (and past the code) when it begins; one that became so
        while it ran, or after it, would otherwise wait for a start that already came.
        """
        armed = self._armed.get(exam_id)
        if socket.seated is None and armed is not None and clock.now() >= armed[0] - waiting_room.lead():
            self.seat_soon(exam_id)

    def seat_soon(self, exam_id: int) -> None:
        """Seat the exam's waiting students here, now (once at a time per exam; again after if asked meanwhile)."""
        running = self._seating.get(exam_id)
        if running is not None and not running.done():
            self._again.add(exam_id)
            return
        self._seating[exam_id] = asyncio.get_running_loop().create_task(self._seat(exam_id), name=f"seat-{exam_id}")

    async def _seat(self, exam_id: int) -> None:
        try:
            while True:
                self._again.discard(exam_id)
                users = [
                    user_id
                    for user_id, group in self.sockets.get(exam_id, {}).items()
                    if any(s.ready and s.seated is None and s.code_accepted for s in group)
                ]
                if users:
                    await self._seat_users(exam_id, users)
                if exam_id not in self._again:
                    break
        except asyncio.CancelledError:
            raise
        except Exception:
            # A failed seating (the database or Redis away) is retried by the sockets' resync
            # when the hub recovers, and by any socket that reconnects.
            logger.exception("seating the waiting students of exam %s failed", exam_id)
        finally:
            self._seating.pop(exam_id, None)

    async def _seat_users(self, exam_id: int, users: list[int]) -> None:
        began, started = time.time(), time.monotonic()
        seating, statements = await db_call(_counted(waiting_room.seat_students))(exam_id=exam_id, user_ids=users)
        if seating is None:
            return
        seated_in = time.monotonic() - started
        texts = start_texts(seating)
        served = 0
        for user_id, (attempt_id, text) in texts.items():
            for socket in list(self.sockets.get(exam_id, {}).get(user_id, ())):
                await socket.send_start(text, attempt_id)
                served += 1
                if served % SLICE == 0:
                    await asyncio.sleep(0)
        # The others (no code yet, or no attempts left) learn that the start came.
        for group in list(self.sockets.get(exam_id, {}).values()):
            for socket in list(group):
                if socket.ready and socket.seated is None:
                    await socket.deliver(builders.waiting_frame(seating.exam, code_accepted=socket.code_accepted))
        pushed_in = time.monotonic() - started
        # The proctors' rows, once every student here has their questions.
        _, told = await db_call(_counted(notifications.attempts_started))(seating.created)
        # bench/bench_start.py reads this line: keep its fields.
        logger.info(
            "exam %s: seated %d students here (%d new attempts) for %s: seating %.3f s, %d statements; "
            "frames out %.3f s; proctors told in %d statements; began at %.3f",
            exam_id,
            len(texts),
            len(seating.created),
            clock.iso(seating.started_at),
            seated_in,
            statements,
            pushed_in,
            told,
            began,
        )

    # --- signals and recovery ------------------------------------------------------------------

    async def on_signal(self, exam_id: int, signal: dict) -> None:
        """A waiting-room signal from any process (exams/notifications.py)."""
        if exam_id not in self.sockets:
            return
        if signal.get("type") == notifications.RELAY:
            # A frame for the room's students (an announcement, an acknowledgement from another tab).
            users = self.sockets.get(exam_id, {})
            user_id = signal.get("user_id")
            groups = list(users.values()) if user_id is None else [users.get(user_id, set())]
            for socket in [s for group in groups for s in group]:
                try:
                    await socket.deliver(signal["frame"])
                except Exception:  # one socket's failure is never the others'
                    logger.exception("relaying %s to a waiting socket failed", signal["frame"].get("type"))
        elif signal.get("type") == notifications.STARTING:
            self.seat_soon(exam_id)
        elif signal.get("type") == notifications.ROOM_CHANGED:
            # Off the fan-out loop: it reads the database.
            task = asyncio.get_running_loop().create_task(self._refresh_logged(exam_id))
            self._refreshing.add(task)
            task.add_done_callback(self._refreshing.discard)

    async def _refresh_logged(self, exam_id: int) -> None:
        try:
            await self.refresh(exam_id)
        except Exception:
            logger.exception("refreshing the waiting room of exam %s failed", exam_id)

    async def refresh(self, exam_id: int, *, replay: bool = False) -> None:
        """Re-read the exam: re-arm its start, tell its unseated sockets the room as it is, seat if it is time.

        `replay`: events may have been lost (a Redis outage): their announcements as they stand too.
        """
        exam = await db_call(get_exam)(exam_id)
        self.arm(exam)
        told = {}
        if replay:
            told = await db_call(room.waiting_announcements)(
                exam_id=exam_id, user_ids=list(self.sockets.get(exam_id, {}))
            )
        for socket in [s for group in self.sockets.get(exam_id, {}).values() for s in group]:
            if socket.ready and socket.seated is None:
                await socket.deliver(builders.waiting_frame(exam, code_accepted=socket.code_accepted))
                if told.get(socket.user_id):
                    await socket.deliver(room_builders.waiting_announcements_frame(exam_id, told[socket.user_id]))
        instant = exam.start_instant
        if exam.waiting_room and instant is not None and clock.now() >= instant - waiting_room.lead():
            self.seat_soon(exam_id)

    async def resync_all(self) -> None:
        """After a Redis outage (a `starting` signal may have been lost): refresh every room held here."""
        for exam_id in list(self.sockets):
            try:
                await self.refresh(exam_id, replay=True)
            except Exception:
                logger.exception("resyncing the waiting room of exam %s failed", exam_id)


def _counted(func: Callable[..., Any]) -> Callable[..., tuple[Any, int]]:
    """`func` returning (its result, the SQL statements it ran): the start's database cost, logged."""

    @functools.wraps(func)
    def call(*args, **kwargs):
        count = 0

        def counter(execute, sql, params, many, context):
            nonlocal count
            count += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counter):
            return func(*args, **kwargs), count

    return call
