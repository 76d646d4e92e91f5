"""This process's sockets and its one link to the rest of the fleet.

The hub holds every open student and proctor socket of the process, by attempt and by exam.
It is the only user of the channel layer in a daphne process:
- it receives the fan-out group's messages on a channel of its own and hands each event to
  the sockets it is for (exams/delivery.py publishes them);
- it reports presence in batches with a heartbeat (exams/presence.py), so opening or closing
  a socket costs no Redis call;
- it watches Redis: after an outage, a restart that lost the data, or a sweep that took it
  for dead, it re-joins the group, re-reports presence and resyncs every socket from the
  database, so nothing that happened meanwhile stays invisible;
- it holds each user's limits (realtime/limits.py: sockets, a shared message budget, actions
  under way) and current rights (realtime/rights.py): every few seconds it re-reads the rights
  of all its users in one query and closes the sockets of users who lost them (4401, 4403),
  and of tokens past their expiry (4401);
- on shutdown it closes every socket with 1012 and leaves presence.
Sockets talk to the hub only through the small `HubSocket` protocol below.
"""

import asyncio
import logging
import time
import uuid
import weakref
from collections.abc import Iterable
from typing import Any, Protocol

import redis
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import DatabaseError

from exams import clock, delivery, notifications, presence, redis_clients, room, selectors, services
from exams.contract.codes import CLOSE_UNAUTHENTICATED

from .db import db_call
from .limits import UserLimits
from .proctor_feed import ProctorFeed
from .rights import Rights, token_expired
from .waiting import WaitingRooms

logger = logging.getLogger(__name__)

# Sockets served between two yields to the event loop when one message reaches many.
SLICE = 100
# Presence changes are reported this often (one script, one insert, one publish per batch).
PRESENCE_FLUSH_SECONDS = 0.5
# One Redis call of the hub's may take this long before the hub counts Redis as unhealthy.
REDIS_CALL_TIMEOUT = 1.0
# How long a handshake waits for a new hub to join the fan-out group.
JOIN_WAIT_SECONDS = 1.0
# On shutdown, how long the hub's tasks may take to stop before it leaves presence anyway.
LEAVE_WAIT_SECONDS = 1.0


class HubSocket(Protocol):
    user_id: int
    # A proctor socket: its user must be staff.
    needs_staff: bool
    # The socket's access token runs out then (epoch seconds); an `auth` message moves it on.
    token_expires_at: float | None
    # Accepted and its snapshot sent: from then on only the hub can tell it its rights are gone.
    ready: bool

    async def deliver(self, payload: dict) -> None: ...
    async def resync(self, state: object) -> None: ...
    async def resync_room(self, state: object) -> None: ...
    async def close_for_restart(self) -> None: ...
    async def revoke(self, code: int) -> None: ...


class Hub:
    def __init__(self) -> None:
        self.pid = uuid.uuid4().hex[:16]
        self.channel = f"{delivery.PROCESS_CHANNEL_PREFIX}{self.pid}"
        self.students: dict[int, set[HubSocket]] = {}
        self.proctors: dict[int, set[HubSocket]] = {}
        # attempt id -> held (True) or released (False) since the last presence flush.
        self._changes: dict[int, bool] = {}
        # Attempts reported connected from this process (some socket of theirs was accepted).
        self._present: set[int] = set()
        self._tasks: list[asyncio.Task] = []
        self._healthy = True
        self._registered = False
        # Monotonic time of the last beat that succeeded (what tests watch to know a beat has run).
        self._last_beat: float | None = None
        # Presence transitions reported to Redis, waiting to be recorded in the database (in order).
        self._unrecorded: list[tuple[list[int], list[int]]] = []
        self._recorder: asyncio.Task | None = None
        # Set while this process is in the fan-out group (see `wait_joined`).
        self.joined = asyncio.Event()
        # Clear while a fan-out message is being handed to the sockets: the ticker waits for it
        # (realtime/ticker.py), so a change reaches every screen before the next routine tick.
        self.quiet = asyncio.Event()
        self.quiet.set()
        self.limits = UserLimits()
        self.rights = Rights()
        # Waiting-room sockets, by exam and user, and the synchronized start (realtime/waiting.py).
        self.rooms = WaitingRooms(self)
        # Many attempts' proctor rows, read here for the exams whose proctors this process holds.
        self.feed = ProctorFeed(self._to_proctors, self.missed_events)

    # --- sockets ---------------------------------------------------------------------

    def add_student(self, socket: HubSocket, attempt_id: int) -> bool:
        """Hold the socket; False (not held) when its user has too many sockets here already."""
        self._ensure_running()
        if not self.limits.admit(socket, user_id=socket.user_id, room=("attempt", attempt_id)):
            return False
        group = self.students.setdefault(attempt_id, set())
        group.add(socket)
        return True

    def mark_present(self, attempt_id: int) -> None:
        """The socket is open and accepted: count the attempt as connected (reported in the next batch)."""
        self._present.add(attempt_id)
        self._changes[attempt_id] = True

    def remove_student(self, socket: HubSocket, attempt_id: int) -> None:
        self.limits.release(socket, user_id=socket.user_id)
        group = self.students.get(attempt_id)
        if group is None or socket not in group:
            return
        group.discard(socket)
        if not group:
            del self.students[attempt_id]
            if attempt_id in self._present:
                self._present.discard(attempt_id)
                self._changes[attempt_id] = False

    def add_proctor(self, socket: HubSocket, exam_id: int) -> bool:
        """Hold the socket; False (not held) when its user has too many sockets here already."""
        self._ensure_running()
        if not self.limits.admit(socket, user_id=socket.user_id, room=("exam", exam_id)):
            return False
        self.proctors.setdefault(exam_id, set()).add(socket)
        return True

    def remove_proctor(self, socket: HubSocket, exam_id: int) -> None:
        self.limits.release(socket, user_id=socket.user_id)
        group = self.proctors.get(exam_id)
        if group is not None:
            group.discard(socket)
            if not group:
                del self.proctors[exam_id]

    async def wait_joined(self) -> None:
        """Before a socket reads its snapshot: the process must be in the fan-out group, or
        events published after the read would miss it. Bounded: while Redis is away the socket
        is served anyway, and resynced when it returns."""
        if not self.joined.is_set():
            try:
                await asyncio.wait_for(self.joined.wait(), JOIN_WAIT_SECONDS)
            except TimeoutError:
                pass

    # --- delivery --------------------------------------------------------------------

    async def dispatch(self, events: list) -> None:
        """Hand each (target, id, payload) event to this process's sockets it is for."""
        self.quiet.clear()
        try:
            await self._dispatch(events)
        finally:
            self.quiet.set()

    async def _dispatch(self, events: list) -> None:
        served = 0
        for target, target_id, payload in events:
            if target == delivery.TO_WAITING:
                await self.rooms.on_signal(target_id, payload)
                continue
            if target == delivery.TO_EXAM_ROWS:
                if target_id in self.proctors:  # read only where the exam's proctors are
                    self.feed.rows(target_id, payload)
                continue
            if target == delivery.TO_EXAM and self.feed.busy(target_id):
                self.feed.frame(target_id, payload)  # after the rows queued before it
                continue
            sockets: set[HubSocket] | None
            if target == delivery.TO_EXAM_STUDENTS:
                sockets = self._exam_students(target_id)
            else:
                sockets = (self.students if target == delivery.TO_ATTEMPT else self.proctors).get(target_id)
            if not sockets:
                continue
            served += await _hand_out(sockets, payload)
            if served >= SLICE:
                served = 0
                await asyncio.sleep(0)

    async def _to_proctors(self, exam_id: int, frames: list[dict]) -> None:
        """Frames from the proctor feed to the exam's proctor sockets held now, yielding between slices."""
        served = 0
        for frame in frames:
            served += await _hand_out(self.proctors.get(exam_id, ()), frame)
            if served >= SLICE:
                served = 0
                await asyncio.sleep(0)

    def missed_events(self) -> None:
        """Events for this process's sockets could not be sent: resync them all at the next beat."""
        self._healthy = False

    def _exam_students(self, exam_id: int) -> set[HubSocket]:
        """The student sockets of one exam, and those still connecting, whose exam is not known yet
        (they read their state after joining, so an event published meanwhile must reach them; they
        drop one for another exam). A scan: such events are rare (an announcement to all)."""
        return {
            socket
            for group in self.students.values()
            for socket in group
            if getattr(socket, "exam_id", None) in (None, exam_id)
        }

    async def _receive_forever(self) -> None:
        layer = get_channel_layer()
        backoff = 0.1
        while True:
            try:
                # channels-redis loops on its 5 s BZPOPMIN until a message comes; a hung Redis
                # ends it with the layer's socket timeout (a RedisError).
                message = await layer.receive(self.channel)
                _reraise_if_cancelled()
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError, TimeoutError, ChannelFull) as exc:
                _reraise_if_cancelled()
                self._healthy = False
                logger.warning("fan-out receive failed (%s); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                continue
            backoff = 0.1
            try:
                started = time.monotonic()
                events = message.get("events", [])
                await self.dispatch(events)
                logger.debug("dispatched %d events in %.0f ms", len(events), (time.monotonic() - started) * 1000)
            except Exception:
                logger.exception("fan-out dispatch failed")

    # --- presence, health and recovery ----------------------------------------------

    async def _redis(self, coro):
        result = await asyncio.wait_for(coro, REDIS_CALL_TIMEOUT)
        _reraise_if_cancelled()
        return result

    async def _beat(self) -> None:
        """Join the group (refreshing its expiry) and beat; resync after any gap or loss."""
        # Join first: whoever sees this process beating may count on it hearing events.
        await self._redis(get_channel_layer().group_add(delivery.FANOUT_GROUP, self.channel))
        self.joined.set()
        forgotten = await self._redis(presence.heartbeat(self.pid, clock.now_ms()))
        # Only a failed call of the hub's own (an outage, a hung Redis: each call is bounded by
        # REDIS_CALL_TIMEOUT) or forgotten data mean events were lost. A beat merely late (a busy
        # event loop) is not one: resyncing every socket then would add to the load that made it late.
        lost = (forgotten and self._registered) or not self._healthy
        logger.debug("hub %s beat: forgotten=%s lost=%s", self.pid, forgotten, lost)
        self._registered, self._healthy = True, True
        if lost:
            await self.recover()
        self._last_beat = time.monotonic()

    async def recover(self) -> None:
        """After an outage, data loss or events it could not send: re-report presence, then resync every socket."""
        logger.warning(
            "events may have been missed (Redis away or emptied, or proctor rows unread): resyncing %d attempts, "
            "%d exams",
            len(self.students),
            len(self.proctors),
        )
        for attempt_id in self._present:
            self._changes[attempt_id] = True
        await self._flush_presence()
        await self.resync_all()

    async def resync_all(self) -> None:
        """Send every socket its current state from the database (after the group is joined)."""
        attempt_ids = list(self.students)
        if attempt_ids:
            attempts = await db_call(selectors.attempts_by_id)(attempt_ids)
            # Announcements and questions of the attempts in progress: three queries for all.
            rooms = await db_call(room.student_rooms)([a for a in attempts.values() if a.is_ongoing])
            for attempt_id, attempt in attempts.items():
                for socket in list(self.students.get(attempt_id, ())):
                    await _safely(socket.resync(attempt))
                    if attempt_id in rooms:
                        await _safely(socket.resync_room(rooms[attempt_id]))
        for exam_id in list(self.proctors):
            rows = await db_call(notifications.exam_rows)(exam_id)
            exam_room = await db_call(room.proctor_room)(exam_id)
            for socket in list(self.proctors.get(exam_id, ())):
                await _safely(socket.resync(rows))
                await _safely(socket.resync_room(exam_room))
        await self.rooms.resync_all()

    async def _flush_presence(self) -> None:
        if not self._changes:
            return
        changes, self._changes = self._changes, {}
        try:
            up, down = await self._redis(presence.apply_changes(self.pid, clock.now_ms(), changes.items()))
        except BaseException:
            # Not reported: keep them (newer changes win) for the next flush.
            self._changes = {**changes, **self._changes}
            raise
        if up or down:
            self._unrecorded.append((up, down))
            if self._recorder is None or self._recorder.done():
                self._recorder = asyncio.create_task(self._record_presence(), name="hub-presence-record")

    async def _record_presence(self) -> None:
        """Record presence transitions in the database and tell the proctors, in order, off the beat's
        loop: a slow database, or the proctors' publish stalled on a hung Redis, must not hold up the
        beat, whose own bounded Redis calls are what tell the hub it missed events."""
        while self._unrecorded:
            up, down = self._unrecorded[0]
            try:
                await db_call(services.record_presence)(connected=up, disconnected=down)
            except asyncio.CancelledError:
                raise
            except (DatabaseError, redis.RedisError, OSError) as exc:
                _reraise_if_cancelled()
                logger.warning("recording %d presence changes failed (%s); trying again", len(up) + len(down), exc)
                await asyncio.sleep(PRESENCE_FLUSH_SECONDS)
                continue
            except Exception:
                # Not an outage: trying again would fail again and hold up every later change.
                logger.exception("recording %d presence changes failed; dropped", len(up) + len(down))
            self._unrecorded.pop(0)

    async def _maintain_forever(self) -> None:
        next_beat = 0.0
        while True:
            try:
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + presence.HEARTBEAT_SECONDS
                    await self._beat()
                await self._flush_presence()
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError, TimeoutError, DatabaseError) as exc:
                _reraise_if_cancelled()
                if self._healthy:
                    logger.warning("Redis or the database unavailable to the hub (%s)", exc)
                self._healthy = False
                self.joined.clear()
            except Exception:
                logger.exception("hub maintenance failed")
                self._healthy = False
            await asyncio.sleep(PRESENCE_FLUSH_SECONDS)

    async def master_switched(self, address: str) -> None:
        """The sentinels promoted a new master: leave the old one now, and resync at the next
        beat (what was published to the old master since it stopped answering is lost)."""
        logger.warning("Redis failed over to %s: reconnecting the fan-out receive and resyncing", address)
        self._healthy = False
        redis_clients.drop_idle_sync_connections()
        await redis_clients.drop_layer_connections()
        await redis_clients.drop_async_connections()

    async def _follow_failovers(self) -> None:
        masters = [settings.REDIS_SENTINEL_MASTER, *settings.CHANNEL_LAYER_SENTINEL_MASTERS]
        while True:
            try:
                await redis_clients.watch_master_switches(self.master_switched, masters=masters)
                return  # no sentinels: nothing to follow
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError) as exc:
                _reraise_if_cancelled()
                # A switch missed meanwhile: the receive's socket timeout still ends its wait.
                logger.warning("cannot watch the sentinels (%s); retrying in 1 s", exc)
            except Exception:
                logger.exception("watching the sentinels failed")
            await asyncio.sleep(1.0)

    # --- rights ----------------------------------------------------------------------

    async def police(self) -> None:
        """Close the sockets whose token has run out, then re-read all users' rights in one
        query and close the sockets of those who lost them. A socket still connecting is left
        to its own connect, whose read is newer."""
        now = time.time()
        for user_id in self.limits.users():
            for socket in self.limits.sockets(user_id):
                if socket.ready and token_expired(socket.token_expires_at, now=now):
                    await _safely(socket.revoke(CLOSE_UNAUTHENTICATED))
        users = self.limits.users()
        self.rights.keep_only(users)
        if not users:
            return
        for user_id, standing in (await self.rights.read(users)).items():
            for socket in self.limits.sockets(user_id):
                code = standing.refusal(needs_staff=socket.needs_staff)
                if code is not None and socket.ready:
                    await _safely(socket.revoke(code))

    async def _police_forever(self) -> None:
        # A task of its own: a slow database never delays the heartbeat and presence.
        while True:
            await asyncio.sleep(settings.EXAM["WS_RIGHTS_REFRESH_SECONDS"])
            try:
                await self.police()
            except asyncio.CancelledError:
                raise
            except DatabaseError as exc:
                _reraise_if_cancelled()
                # Meanwhile an action re-reads its own user once the entry is too old.
                logger.warning("could not re-read the socket users' rights (%s)", exc)
            except Exception:
                logger.exception("checking the socket users' rights failed")

    def _ensure_running(self) -> None:
        if self._tasks and not all(t.done() for t in self._tasks):
            return
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._receive_forever(), name="hub-fanout"),
            loop.create_task(self._maintain_forever(), name="hub-maintain"),
            loop.create_task(self._police_forever(), name="hub-rights"),
            loop.create_task(self._follow_failovers(), name="hub-failovers"),
        ]

    # --- shutdown --------------------------------------------------------------------

    async def close_all(self) -> int:
        """Close every socket with 1012 (service restart: reconnect now, elsewhere)."""
        sockets = [s for group in (*self.students.values(), *self.proctors.values()) for s in group]
        sockets += self.rooms.all_sockets()
        for socket in sockets:
            await _safely(socket.close_for_restart())
        return len(sockets)

    async def leave(self) -> None:
        """Stop, and take this process out of presence (its students are disconnected here)."""
        for task in self._tasks:
            task.cancel()
        await self.feed.stop()
        if self._recorder is not None and not self._recorder.done():
            # What presence already reported is recorded, within the same bound.
            await asyncio.wait([self._recorder], timeout=LEAVE_WAIT_SECONDS)
            self._recorder.cancel()
        if self._tasks:
            # Bounded: a Redis call can take a while to honour the cancel, and leaving presence
            # does not depend on these tasks having stopped.
            _, running = await asyncio.wait(self._tasks, timeout=LEAVE_WAIT_SECONDS)
            if running:
                logger.warning(
                    "hub tasks still stopping after %.1fs: %s",
                    LEAVE_WAIT_SECONDS,
                    ", ".join(_awaiting(t) for t in running),
                )
        try:
            layer = get_channel_layer()
            await self._redis(layer.group_discard(delivery.FANOUT_GROUP, self.channel))
            down = await self._redis(presence.leave(self.pid))
            if down:
                await db_call(services.record_presence)(connected=[], disconnected=down)
        except Exception as exc:
            # The listeners' sweeper removes this process's presence once it stops beating.
            logger.warning("could not leave presence cleanly (%s)", exc)


async def _hand_out(sockets: "Iterable[HubSocket]", payload: dict) -> int:
    """`payload` to each of the sockets; returns how many there were."""
    held = list(sockets)
    for socket in held:
        try:
            await socket.deliver(payload)
        except Exception:  # one socket's failure is never the others'
            logger.exception("delivering %s to a socket failed", payload.get("type"))
    return len(held)


def _reraise_if_cancelled() -> None:
    """A cancellation that a client library turned into its own error, or that Python 3.11's
    wait_for swallowed (cancelled just as the result arrived), must still stop the loop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _awaiting(task: asyncio.Task) -> str:
    """A task's name and the innermost coroutine it is suspended in."""
    coro: Any = task.get_coro()
    where = ""
    while coro is not None and getattr(coro, "cr_frame", None) is not None:
        where = f"{coro.cr_code.co_qualname}:{coro.cr_frame.f_lineno}"
        coro = coro.cr_await
    return f"{task.get_name()} in {where}"


async def _safely(coro) -> None:
    try:
        await coro
    except Exception:
        logger.exception("a socket failed during resync, revocation or shutdown")


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()


def get_hub() -> Hub:
    """The running loop's hub (one per process in daphne)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub()
    return hub


def existing_hub() -> Hub | None:
    """The running loop's hub if it has one (a shutdown has nothing to close without it)."""
    return _hubs.get(asyncio.get_running_loop())
