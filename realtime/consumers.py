"""WebSocket consumers: they only move messages between sockets and the service layer.

A consumer never dies of one bad event: every handler has one catch-all that answers
`error` and keeps the socket, a send to a socket that is closing is dropped, and its
cleanup (the hub's registry, hence ticks and presence) runs however the consumer ends.
Consumers have no channel-layer channel of their own: the process's hub (realtime/hub.py)
delivers events to them, so a Redis outage neither closes nor blocks a socket.

Every action is checked first against its user's limits (realtime/limits.py), the socket's
token expiry and the user's current rights (realtime/rights.py); `auth` renews the token.
"""

import asyncio
import json
import logging
import time
from collections.abc import Awaitable
from datetime import datetime
from typing import TypeVar
from urllib.parse import parse_qs

import redis
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth.models import User
from django.db import DatabaseError

from exams import (
    announcements,
    clock,
    notifications,
    room,
    selectors,
    services,
    student_questions,
    time_control,
    waiting_room,
)
from exams.contract import builders, codes, frames, room_builders
from exams.contract.parsing import BadInput, parse_client_message, request_id_of
from exams.errors import Forbidden, NotAuthenticated, NotFound, ServiceError
from exams.models import Attempt

from .auth import read_access_token
from .db import db_call
from .hub import get_hub
from .limits import TokenBucket
from .rights import token_expired
from .ticker import get_ticker

logger = logging.getLogger(__name__)

T = TypeVar("T")

# How long a socket keeps trying to store answers it received while the database was away.
UNSAVED_RETRY_SECONDS = 600
_CLOSE_CODES = {
    NotAuthenticated: codes.CLOSE_UNAUTHENTICATED,
    Forbidden: codes.CLOSE_FORBIDDEN,
    NotFound: codes.CLOSE_NOT_FOUND,
}


class _ServiceSocket(AsyncWebsocketConsumer):
    """Shared plumbing: close codes, bounded JSON input, errors as `error` messages, safe sends."""

    # The hub is the process's only channel-layer user (see the module docstring).
    channel_layer_alias = "__no_channel_layer__"
    # type -> declaration (exams/contract/frames.py), and type -> handler.
    messages: dict
    actions: dict
    # A proctor socket: its user must be staff, at every action.
    needs_staff = False

    async def __call__(self, scope, receive, send):
        self.released = self.closed = self.ready = self.busy = False
        self.resyncing = False  # a proctor snapshot of a resync is being encoded: events wait
        self.request_id = None
        self.pending: list[dict] = []
        self.bucket = TokenBucket(settings.EXAM["WS_MESSAGES_PER_SECOND"], settings.EXAM["WS_MESSAGE_BURST"])
        # From the access token (realtime/auth.py); checked, with the user's rights, at every action.
        self.user_id: int = scope.get("user_id") or 0
        self.token_expires_at: float | None = scope.get("token_expires_at")
        try:
            await super().__call__(scope, receive, send)
        finally:
            # However it ends (disconnect, a send that raised, cancellation): no ghost left behind.
            self.release()

    async def dispatch(self, message):
        # Channels' dispatch hops to a thread to close stale DB connections before every
        # message; db_call's pool manages its own, so skip the hop.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    def release(self) -> None:
        """Leave the hub (idempotent, synchronous so nothing can skip it)."""

    async def reject(self, code: int) -> None:
        # Accept first: a close before the handshake completes can't carry a code.
        await self.accept()
        await self.close(code=code)

    def note_rights(self, user: User, read_at: float) -> None:
        """The connect's own read of the user's rights (begun at `read_at`): the hub need not read them again soon."""
        get_hub().rights.note(user.pk, active=user.is_active, staff=user.is_staff, read_at=read_at)

    async def open_or_reject(self, opener: Awaitable[T]) -> T | None:
        """Run the connect's one database call; on a refusal close with the contract's code."""
        try:
            return await opener
        except tuple(_CLOSE_CODES) as exc:
            await self.reject(_CLOSE_CODES[type(exc)])
        except (DatabaseError, redis.RedisError):
            logger.warning("database unavailable for a socket handshake", exc_info=True)
            await self.reject(codes.CLOSE_TRY_AGAIN_LATER)
        return None

    async def send_frame(self, message: dict) -> bool:
        """Hand an ASGI message to the socket; False when it is closed or closing."""
        if self.closed:
            return False
        try:
            await self.base_send(message)
            return True
        except Exception as exc:
            # autobahn raises Disconnected for a socket in its closing handshake. Any other
            # failure (a frame over daphne's size limit) would leave a socket that hears
            # nothing: close it, so the client reconnects and gets the state afresh.
            logger.debug("send failed (%s: %s); closing the socket", type(exc).__name__, exc)
            self.closed = True
            self.release()
            try:
                await self.base_send({"type": "websocket.close", "code": codes.CLOSE_INTERNAL_ERROR})
            except Exception:
                pass
            return False

    async def send_json(self, payload: dict) -> None:
        await self.send_frame({"type": "websocket.send", "text": json.dumps(payload)})

    async def send_error(self, code: str, message: str, request_id=None) -> None:
        await self.send_json(builders.error_frame(code, message, request_id))

    async def close_for_restart(self) -> None:
        await self.revoke(codes.CLOSE_SERVICE_RESTART)

    async def revoke(self, code: int) -> None:
        """Close the socket with `code`: from the hub, or instead of an action it may no longer do."""
        if self.closed:
            return
        try:
            await self.close(code=code)
        except Exception:
            pass
        self.closed = True
        self.release()

    async def deliver(self, payload: dict) -> None:
        """An event from the hub: held until the connect's snapshot, or the reply to the
        client's message being handled, has been sent (the reply comes first, as it did)."""
        if not self.ready or self.busy or self.resyncing:
            self.pending.append(payload)
            return
        await self.on_event(payload)

    async def on_event(self, payload: dict) -> None:
        await self.send_json(payload)

    async def become_ready(self) -> None:
        """The snapshot is out: send what arrived meanwhile, in order."""
        self.ready = True
        await self._flush_pending()

    async def _flush_pending(self) -> None:
        while self.pending and self.ready and not self.busy and not self.resyncing:
            await self.on_event(self.pending.pop(0))

    async def receive(self, text_data=None, bytes_data=None):
        received_at = clock.now()  # an answer's time is when it arrived, not when a thread got to it
        self.busy = True
        try:
            await self._handle(text_data, bytes_data, received_at)
        finally:
            self.busy = False
            await self._flush_pending()

    async def _handle(self, text_data, bytes_data, received_at: datetime) -> None:
        # The socket's budget, then its user's (shared with the user's other sockets here). Over
        # either, the message is refused unread: a flood costs a JSON parse per message, no more.
        if not (self.bucket.take() and get_hub().limits.take(self.user_id)):
            await self.send_error(codes.THROTTLED, "Too many messages; slow down.", request_id_of(text_data))
            return
        try:
            message = parse_client_message(text_data, bytes_data, allowed=self.messages)
        except BadInput as exc:
            await self.send_error(exc.code, exc.message, exc.request_id)
            return
        request_id = self.request_id = message.pop("request_id", None)
        kind = message.pop("type")
        if kind != "auth" and token_expired(self.token_expires_at):
            # Not renewed in time (the hub's next check would close it too).
            await self.revoke(codes.CLOSE_UNAUTHENTICATED)
            return
        limits = get_hub().limits
        if not limits.begin(self.user_id):
            # Refused, not queued: the user's other actions are still under way.
            await self.send_error(codes.THROTTLED, "Too many of your actions are under way; retry shortly.", request_id)
            return
        # Received, whatever fails next: an answer's receipt is kept before the rights check,
        # which reads the database when the hub's copy is stale (a database outage).
        self.note_received(kind, message, received_at)
        try:
            refusal = (await get_hub().rights.current(self.user_id)).refusal(needs_staff=self.needs_staff)
            if refusal is not None:
                await self.revoke(refusal)
                return
            reply = await self.actions[kind](self, received_at=received_at, **message)
        except ServiceError as exc:
            await self.send_error(exc.code, exc.message, request_id)
            return
        except (redis.RedisError, DatabaseError):
            logger.warning("backing service failed during a socket action", exc_info=True)
            self.on_backing_failure()
            await self.send_error(
                codes.SERVICE_UNAVAILABLE, "A backing service is unavailable; please retry.", request_id
            )
            return
        except Exception:
            logger.exception("socket action failed")
            await self.send_error(
                codes.SERVER_ERROR, "The server could not handle this message; please retry.", request_id
            )
            return
        finally:
            limits.end(self.user_id)
        if reply is None:
            return  # the action sent its reply itself (the waiting room's `start_code`)
        if request_id is not None:
            reply["request_id"] = request_id
        await self.send_json(reply)

    def note_received(self, kind: str, message: dict, received_at: datetime) -> None:
        """A client action passed the limits and parsed; the database may not have seen it yet."""

    def on_backing_failure(self) -> None:
        """The database or Redis failed during an action (its error reply goes out next)."""

    async def do_auth(self, *, received_at: datetime, token: str) -> dict:
        """A fresh access token for the socket's user: the socket lives until it expires."""
        grant = read_access_token(token)
        if grant is None or grant.user_id != self.user_id:
            raise NotAuthenticated("Not a valid access token for this socket's user.", code="token_not_valid")
        self.token_expires_at = grant.expires_at
        return builders.auth_ok_frame(grant.expires_at)


class AttemptConsumer(_ServiceSocket):
    """A student's attempt: `/ws/attempts/<id>/`."""

    attempt_id = 0  # set on connect (ids are positive): 0 means the socket never joined
    # The attempt's exam, once the connect has read it: an exam-wide event for another exam is dropped.
    exam_id: int | None = None
    ended = False

    async def connect(self):
        user_id = self.scope.get("user_id")
        if user_id is None:
            return await self.reject(codes.CLOSE_UNAUTHENTICATED)
        attempt_id = self.scope["url_route"]["kwargs"]["attempt_id"]
        self.acked: set[tuple] = set()
        # Room frames (`question`, `acknowledged`) this socket's own reply already carried.
        self.replied: set[tuple] = set()
        # (question, option) -> (first receipt, request_id) of answers the database could not take yet.
        self.unsaved: dict[tuple, tuple[datetime, object]] = {}
        self.storing: asyncio.Task | None = None
        # Join first (events are held until the snapshot is out), then read the state.
        if not get_hub().add_student(self, attempt_id):
            # The user has too many sockets here already: refused before any database work.
            return await self.reject(codes.CLOSE_TOO_MANY_SOCKETS)
        self.attempt_id = attempt_id
        await get_hub().wait_joined()
        read_at = time.monotonic()
        opened = await self.open_or_reject(db_call(_open_attempt)(user_id=user_id, attempt_id=attempt_id))
        if opened is None or self.closed:  # closed: the process began shutting down meanwhile
            return
        attempt, attempt_room = opened
        self.user, self.exam_id = attempt.user, attempt.exam_id
        self.note_rights(self.user, read_at)
        await self.accept()
        get_hub().mark_present(attempt_id)
        await self.send_state(attempt)
        if attempt_room is not None and not attempt_room.empty:
            await self.send_json(room_builders.student_room_frame(attempt_room))
        await self.become_ready()

    async def disconnect(self, code):
        self.release()

    def release(self) -> None:
        if self.released or not self.attempt_id:
            return
        self.released = True
        hub = get_hub()
        hub.remove_student(self, self.attempt_id)
        if self.attempt_id not in hub.students:
            get_ticker().stop_following(self.attempt_id)

    async def resync(self, attempt: Attempt) -> None:
        """From the hub or the ticker; nothing before the connect's own snapshot is out."""
        if self.ready:
            await self.send_state(attempt)

    async def resync_room(self, attempt_room: room.StudentRoom) -> None:
        """From the hub after it lost track: the announcements and questions as they stand."""
        if self.ready and not self.ended and not attempt_room.empty:
            await self.send_json(room_builders.student_room_frame(attempt_room))

    async def send_state(self, attempt: Attempt) -> None:
        """Tell the socket the attempt's state as the database holds it."""
        if self.ended and not (attempt.is_ongoing or attempt.is_overdue):
            return  # it knows already
        await self.send_json(builders.timer_frame(attempt))
        if attempt.is_paused:
            self.ended = False
            # The clock stands still: ticks keep the time left, and no settle.
            get_ticker().follow(attempt.pk, attempt.deadline_at, paused_at=attempt.paused_at)
            category, note = await db_call(selectors.pause_reason)(attempt.pk)
            await self.send_json(builders.paused_frame(attempt, category, note))
        elif attempt.is_ongoing:
            self.ended = False
            get_ticker().follow(attempt.pk, attempt.deadline_at)
        elif attempt.is_overdue:
            self.ended = False
            await self.send_json(builders.overdue_frame(attempt))
            self._follow_hand_in(attempt.hand_in_until)
        else:
            self._end()
            await self.send_json(builders.ended_frame(attempt))

    def _follow_hand_in(self, until: datetime | None) -> None:
        """No more ticks; settle the attempt if no end is heard by the hand-in window's end."""
        if until is not None:
            get_ticker().follow(self.attempt_id, until, quiet=True)

    def _end(self) -> None:
        self.ended = True
        get_ticker().stop_following(self.attempt_id)

    # Client actions ----------------------------------------------------------------

    def note_received(self, kind: str, message: dict, received_at: datetime) -> None:
        # An answer this socket received while the database was down keeps that first receipt
        # when the client sends it again: the server had it in time, the outage was ours.
        # The server also stores it by itself once the database is back (`_store_unsaved`).
        if kind != "answer":
            return
        key = (message["question_id"], message["selected_option"])
        first = self.unsaved[key][0] if key in self.unsaved else received_at
        # The acknowledgement goes with the latest request_id: the one the client waits on.
        self.unsaved[key] = (first, self.request_id)

    def on_backing_failure(self) -> None:
        if self.unsaved and (self.storing is None or self.storing.done()):
            self.storing = asyncio.get_running_loop().create_task(self._store_unsaved())

    async def do_answer(self, *, received_at: datetime, question_id: int, selected_option: str | None) -> dict:
        key = (question_id, selected_option)
        received_at = self.unsaved[key][0]  # the first receipt (note_received)
        try:
            answer = await self._save(key, received_at)
        except (DatabaseError, redis.RedisError):
            raise  # kept in `unsaved`; stored once the database is back
        except BaseException:
            self.unsaved.pop(key, None)
            raise
        self.unsaved.pop(key, None)
        return self._saved_reply(answer)

    async def _save(self, key: tuple, received_at: datetime):
        question_id, selected_option = key
        return await db_call(services.save_answer)(
            user=self.user,
            attempt_id=self.attempt_id,
            question_id=question_id,
            selected_option=selected_option,
            received_at=received_at,
        )

    def _saved_reply(self, answer) -> dict:
        reply = builders.answer_saved_frame(answer)
        self.acked.add((reply["question_id"], reply["saved_at"]))
        return reply

    async def _store_unsaved(self) -> None:
        """Store the answers received in time while the database was away, as soon as it is back,
        and acknowledge each with its latest request_id (even if the client never sends it again)."""
        delay, give_up = 0.5, time.monotonic() + UNSAVED_RETRY_SECONDS
        while self.unsaved and time.monotonic() < give_up:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
            for key, (received_at, request_id) in list(self.unsaved.items()):
                if self.busy:
                    break  # the client is being answered: try again after it
                # Like a client message: its broadcast waits until its reply is out.
                self.busy = True
                try:
                    # The user's rights first, as for a client action: read afresh if stale.
                    refusal = (await get_hub().rights.current(self.user_id)).refusal(needs_staff=False)
                    if refusal is not None:
                        self.unsaved.clear()
                        await self.revoke(refusal)
                        return
                    reply = self._saved_reply(await self._save(key, received_at))
                except (DatabaseError, redis.RedisError):
                    break  # still away
                except ServiceError as exc:
                    self.unsaved.pop(key, None)
                    await self.send_error(exc.code, exc.message, request_id)
                    continue
                except Exception:
                    logger.exception("storing an answer received during an outage failed")
                    self.unsaved.pop(key, None)
                    continue
                else:
                    self.unsaved.pop(key, None)
                    if request_id is not None:
                        reply["request_id"] = request_id
                    await self.send_json(reply)
                finally:
                    self.busy = False
                    await self._flush_pending()

    async def do_submit(self, *, received_at: datetime) -> dict:
        sheet = await db_call(services.submit_attempt)(user=self.user, attempt_id=self.attempt_id)
        self._end()
        return builders.ended_frame(sheet.attempt)

    async def do_acknowledge(self, *, received_at: datetime, announcement_id: int) -> dict:
        ack = await db_call(announcements.acknowledge_announcement)(
            user=self.user, attempt_id=self.attempt_id, announcement_id=announcement_id
        )
        return self._replied(room_builders.acknowledged_frame(ack))

    async def do_ask(self, *, received_at: datetime, text: str) -> dict:
        question = await db_call(student_questions.ask_question)(user=self.user, attempt_id=self.attempt_id, text=text)
        return self._replied(room_builders.question_frame(question))

    def _replied(self, frame: dict) -> dict:
        self.replied.add(_room_echo(frame))
        return frame

    messages = frames.STUDENT_MESSAGES
    actions = {
        "answer": do_answer,
        "submit": do_submit,
        "acknowledge": do_acknowledge,
        "ask": do_ask,
        "auth": _ServiceSocket.do_auth,
    }

    # Events from the hub ----------------------------------------------------------

    async def send_tick(self, message: dict) -> None:
        """A `timer` frame from the ticker; none before the connect's snapshot."""
        if self.ready:
            await self.send_frame(message)

    async def on_event(self, payload: dict) -> None:
        kind = payload["type"]
        if kind == "answer_saved":
            key = (payload["question_id"], payload["saved_at"])
            if key in self.acked:  # this socket's own reply already said so
                self.acked.discard(key)
                return
        elif kind in ("extended", "timer", "resumed", "time_changed") or kind == "paused":
            if self.ended:
                return
            _follow(self.attempt_id, payload)
        elif kind == "reopened":
            self.ended = False
            get_ticker().follow(self.attempt_id, datetime.fromisoformat(payload["deadline"]))
        elif kind == "overdue":
            if self.ended:
                return
            self._follow_hand_in(datetime.fromisoformat(payload["hand_in_until"]))
        elif kind in ("timeout", "submitted"):
            if self.ended:
                return
            self._end()
        elif kind == "announcement" and payload["exam_id"] != self.exam_id:
            return  # an exam-wide event that reached this socket while it did not know its exam yet
        elif kind in ("question", "acknowledged"):
            key = _room_echo(payload)
            if key in self.replied:  # this socket's own reply already said so
                self.replied.discard(key)
                return
        await self.send_json(payload)


def _follow(attempt_id: int, frame: dict) -> None:
    """Tick the attempt from a frame's clock: running to its `deadline`, or paused (its clock standing
    still: the frame's deadline, less the pause so far, is its deadline at the pause)."""
    deadline = datetime.fromisoformat(frame["deadline"])
    if "paused_at" not in frame:
        get_ticker().follow(attempt_id, deadline)
        return
    paused_at = datetime.fromisoformat(frame["paused_at"])
    at_pause = deadline - (datetime.fromisoformat(frame["server_time"]) - paused_at)
    get_ticker().follow(attempt_id, at_pause, paused_at=paused_at)


class ProctorConsumer(_ServiceSocket):
    """A proctor's live view of one exam: `/ws/proctor/exams/<exam_id>/`."""

    exam_id = 0  # set on connect (ids are positive): 0 means the socket never joined
    needs_staff = True

    async def connect(self):
        user_id = self.scope.get("user_id")
        if user_id is None:
            return await self.reject(codes.CLOSE_UNAUTHENTICATED)
        exam_id = self.scope["url_route"]["kwargs"]["exam_id"]
        if not get_hub().add_proctor(self, exam_id):
            return await self.reject(codes.CLOSE_TOO_MANY_SOCKETS)
        self.exam_id = exam_id
        await get_hub().wait_joined()
        read_at = time.monotonic()
        since = _since(self.scope.get("query_string", b""))
        opened = await self.open_or_reject(db_call(_open_exam_room)(user_id=user_id, exam_id=self.exam_id, since=since))
        if opened is None or self.closed:  # closed: the process began shutting down meanwhile
            return
        self.user, rows, since, exam_room = opened
        self.note_rights(self.user, read_at)
        await self.accept()
        await self.send_snapshot(rows, since=since)
        if not exam_room.empty:
            await self.send_json(room_builders.proctor_room_frame(exam_room))
        await self.become_ready()

    async def disconnect(self, code):
        self.release()

    def release(self) -> None:
        if self.released or not self.exam_id:
            return
        self.released = True
        get_hub().remove_proctor(self, self.exam_id)

    async def resync(self, rows: list[dict]) -> None:
        """From the hub; nothing before the connect's own snapshot is out. Events that arrive while
        it is encoded follow it, as after the connect's."""
        if self.ready:
            self.resyncing = True
            try:
                await self.send_snapshot(rows)
            finally:
                self.resyncing = False
                await self._flush_pending()

    async def resync_room(self, exam_room: room.ProctorRoom) -> None:
        """From the hub after it lost track: announcements, questions and incidents as they stand."""
        if self.ready and not exam_room.empty:
            await self.send_json(room_builders.proctor_room_frame(exam_room))

    async def send_snapshot(self, rows: list[dict], *, since: datetime | None = None) -> None:
        exam_id = self.exam_id
        assert exam_id is not None  # set before the socket can be sent to
        # Megabytes for a large exam: encoded off the event loop, which serves every socket's ticks.
        text = await asyncio.to_thread(lambda: json.dumps(builders.snapshot_frame(exam_id, rows, since=since)))
        await self.send_frame({"type": "websocket.send", "text": text})

    async def do_extend(self, *, received_at: datetime, attempt_id: int, seconds: int, **choices) -> dict:
        # choices: close, reason (rest.ExtendRequest)
        attempt = await db_call(services.extend_attempt)(
            attempt_id=attempt_id, seconds=seconds, by=self.user, exam_id=self.exam_id, **choices
        )
        return builders.extend_ack(attempt, seconds)

    async def do_force_submit(self, *, received_at: datetime, attempt_id: int) -> dict:
        sheet = await db_call(services.force_submit_attempt)(attempt_id=attempt_id, by=self.user, exam_id=self.exam_id)
        return builders.force_submit_ack(sheet)

    async def do_start_now(self, *, received_at: datetime) -> dict:
        summary = await db_call(_start_now)(exam_id=self.exam_id, by=self.user)
        return builders.start_now_ack(summary)

    async def do_pause(self, *, received_at: datetime, **fields) -> dict:
        done = await db_call(time_control.pause)(by=self.user, exam_id=self.exam_id, **fields)
        return builders.time_control_ack("pause", done.exam, done.attempt_ids)

    async def do_resume(self, *, received_at: datetime, **fields) -> dict:
        done = await db_call(time_control.resume)(by=self.user, exam_id=self.exam_id, **fields)
        return builders.time_control_ack("resume", done.exam, done.attempt_ids)

    async def do_change_time(self, *, received_at: datetime, **fields) -> dict:
        done = await db_call(time_control.change_time)(by=self.user, exam_id=self.exam_id, **fields)
        return builders.time_control_ack("change_time", done.exam, done.attempt_ids)

    async def do_reopen(self, *, received_at: datetime, **fields) -> dict:
        attempt, added = await db_call(time_control.reopen)(by=self.user, exam_id=self.exam_id, **fields)
        return builders.reopen_ack(attempt, added)

    async def do_announce(
        self,
        *,
        received_at: datetime,
        message: str,
        attempt_id: int | None = None,
        user_id: int | None = None,
    ) -> dict:
        status = await db_call(_announce)(
            exam_id=self.exam_id, by=self.user, message=message, attempt_id=attempt_id, user_id=user_id
        )
        return room_builders.announce_ack(status)

    async def do_answer_question(self, *, received_at: datetime, question_id: int, text: str) -> dict:
        question = await db_call(student_questions.answer_question)(
            question_id=question_id, by=self.user, text=text, exam_id=self.exam_id
        )
        return room_builders.answer_question_ack(question)

    messages = frames.PROCTOR_MESSAGES
    actions = {
        "extend": do_extend,
        "force_submit": do_force_submit,
        "start_now": do_start_now,
        "pause": do_pause,
        "resume": do_resume,
        "change_time": do_change_time,
        "reopen": do_reopen,
        "announce": do_announce,
        "answer_question": do_answer_question,
        "auth": _ServiceSocket.do_auth,
    }


def _start_now(*, exam_id: int, by: User) -> waiting_room.RoomSummary:
    """A proctor's "start now" in one thread hop: the start, then the room as it is."""
    waiting_room.start_now(exam_id=exam_id, by=by)
    return waiting_room.room_summary(exam_id=exam_id)


def _room_echo(frame: dict) -> tuple:
    """What identifies a `question` or `acknowledged` frame's news: the same news twice is an echo."""
    if frame["type"] == "question":
        return ("question", frame["id"], frame["answered_at"])
    return ("acknowledged", frame["announcement_id"], frame["acknowledged_at"])


def _open_attempt(*, user_id: int, attempt_id: int) -> tuple[Attempt, room.StudentRoom | None]:
    """A student socket's handshake in one thread hop: the attempt, and its room while it is in progress."""
    attempt = services.open_attempt(user_id=user_id, attempt_id=attempt_id)
    return attempt, room.student_room(attempt) if attempt.is_ongoing else None


def _since(query_string: bytes) -> datetime | None:
    """A reconnecting dashboard's `?since=` (the newest `server_time` of its rows); None when absent or not a time."""
    value = parse_qs(query_string.decode("latin1")).get("since", [""])[0]
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _open_exam_room(*, user_id: int, exam_id: int, since: datetime | None) -> tuple:
    """A proctor socket's handshake in one thread hop: the checked user, the exam's rows (those changed after
    `since`, or all of them: then `since` is None), and its room."""
    user = services.open_exam_room(user_id=user_id, exam_id=exam_id)
    rows = None if since is None else notifications.exam_rows_since(exam_id, since)
    if rows is None:
        rows, since = notifications.exam_rows(exam_id), None
    return user, rows, since, room.proctor_room(exam_id)


def _announce(**kwargs) -> room.AnnouncementStatus:
    """Send an announcement and read it back as proctors see it, in one thread hop."""
    announcement = announcements.send_announcement(**kwargs)
    return room.announcement_statuses(exam_id=announcement.exam_id, announcement_ids=[announcement.pk])[0]
