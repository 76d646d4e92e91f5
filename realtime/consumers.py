"""WebSocket consumers: they only move messages between sockets and the service layer.

A consumer never dies of one bad event: every handler has one catch-all that answers
`error` and keeps the socket, a send to a socket that is closing is dropped, and its
cleanup (the hub's registry, hence ticks and presence) runs however the consumer ends.
Consumers have no channel-layer channel of their own: the process's hub (realtime/hub.py)
delivers events to them, so a Redis outage neither closes nor blocks a socket.
"""

import asyncio
import json
import logging
import time
from collections.abc import Awaitable
from datetime import datetime
from typing import TypeVar

import redis
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError

from exams import clock, notifications, services
from exams.contract import builders, codes, frames
from exams.contract.parsing import BadInput, parse_client_message
from exams.errors import Forbidden, NotAuthenticated, NotFound, ServiceError
from exams.models import Attempt

from .db import db_call
from .hub import get_hub
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


class TokenBucket:
    """Per-socket flood control: `rate` messages a second, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class _ServiceSocket(AsyncWebsocketConsumer):
    """Shared plumbing: close codes, bounded JSON input, errors as `error` messages, safe sends."""

    # The hub is the process's only channel-layer user (see the module docstring).
    channel_layer_alias = "__no_channel_layer__"
    # type -> declaration (exams/contract/frames.py), and type -> handler.
    messages: dict
    actions: dict

    async def __call__(self, scope, receive, send):
        self.released = self.closed = self.ready = self.busy = False
        self.request_id = None
        self.pending: list[dict] = []
        self.bucket = TokenBucket(settings.EXAM["WS_MESSAGES_PER_SECOND"], settings.EXAM["WS_MESSAGE_BURST"])
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
        try:
            await self.close(code=codes.CLOSE_SERVICE_RESTART)
        except Exception:
            pass
        self.closed = True
        self.release()

    async def deliver(self, payload: dict) -> None:
        """An event from the hub: held until the connect's snapshot, or the reply to the
        client's message being handled, has been sent (the reply comes first, as it did)."""
        if not self.ready or self.busy:
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
        while self.pending and self.ready and not self.busy:
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
        allowed = self.bucket.take()
        # Parsing is bounded by the size limit, and gives the request_id a throttled reply echoes.
        try:
            message = parse_client_message(text_data, bytes_data, allowed=self.messages)
        except BadInput as exc:
            if allowed:
                await self.send_error(exc.code, exc.message, exc.request_id)
            else:
                await self.send_error(codes.THROTTLED, "Too many messages; slow down.", exc.request_id)
            return
        request_id = self.request_id = message.pop("request_id", None)
        if not allowed:
            await self.send_error(codes.THROTTLED, "Too many messages; slow down.", request_id)
            return
        try:
            reply = await self.actions[message.pop("type")](self, received_at=received_at, **message)
        except ServiceError as exc:
            await self.send_error(exc.code, exc.message, request_id)
            return
        except (redis.RedisError, DatabaseError):
            logger.warning("backing service failed during a socket action", exc_info=True)
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
        if request_id is not None:
            reply["request_id"] = request_id
        await self.send_json(reply)


class AttemptConsumer(_ServiceSocket):
    """A student's attempt: `/ws/attempts/<id>/`."""

    attempt_id = 0  # set on connect (ids are positive): 0 means the socket never joined
    ended = False

    async def connect(self):
        user_id = self.scope.get("user_id")
        if user_id is None:
            return await self.reject(codes.CLOSE_UNAUTHENTICATED)
        attempt_id = self.scope["url_route"]["kwargs"]["attempt_id"]
        self.acked: set[tuple] = set()
        # (question, option) -> (first receipt, request_id) of answers the database could not take yet.
        self.unsaved: dict[tuple, tuple[datetime, object]] = {}
        self.storing: asyncio.Task | None = None
        # Join first (events are held until the snapshot is out), then read the state.
        self.attempt_id = attempt_id
        get_hub().add_student(self, attempt_id)
        await get_hub().wait_joined()
        attempt = await self.open_or_reject(db_call(services.open_attempt)(user_id=user_id, attempt_id=attempt_id))
        if attempt is None or self.closed:  # closed: the process began shutting down meanwhile
            return
        self.user = attempt.user
        await self.accept()
        get_hub().mark_present(attempt_id)
        await self.send_state(attempt)
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

    async def send_state(self, attempt: Attempt) -> None:
        """Tell the socket the attempt's state as the database holds it."""
        if self.ended and not attempt.is_ongoing:
            return  # it knows already
        await self.send_json(builders.timer_frame(attempt))
        if attempt.is_ongoing:
            self.ended = False
            get_ticker().follow(attempt.pk, attempt.deadline_at)
        else:
            self._end()
            await self.send_json(builders.ended_frame(attempt))

    def _end(self) -> None:
        self.ended = True
        get_ticker().stop_following(self.attempt_id)

    # Client actions ----------------------------------------------------------------

    async def do_answer(self, *, received_at: datetime, question_id: int, selected_option: str) -> dict:
        # An answer this socket received while the database was down keeps that first receipt
        # when the client sends it again: the server had it in time, the outage was ours.
        # The server also stores it by itself once the database is back (`_store_unsaved`).
        key = (question_id, selected_option)
        if key in self.unsaved:
            received_at = self.unsaved[key][0]
        # The acknowledgement goes with the latest request_id: the one the client waits on.
        self.unsaved[key] = (received_at, self.request_id)
        try:
            answer = await self._save(key, received_at)
        except (DatabaseError, redis.RedisError):
            if self.storing is None or self.storing.done():
                self.storing = asyncio.get_running_loop().create_task(self._store_unsaved())
            raise
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

    messages = frames.STUDENT_MESSAGES
    actions = {"answer": do_answer, "submit": do_submit}

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
        elif kind == "extended":
            if self.ended:
                return
            get_ticker().follow(self.attempt_id, datetime.fromisoformat(payload["deadline"]))
        elif kind in ("timeout", "submitted"):
            if self.ended:
                return
            self._end()
        await self.send_json(payload)


class ProctorConsumer(_ServiceSocket):
    """A proctor's live view of one exam: `/ws/proctor/exams/<exam_id>/`."""

    exam_id = 0  # set on connect (ids are positive): 0 means the socket never joined

    async def connect(self):
        user_id = self.scope.get("user_id")
        if user_id is None:
            return await self.reject(codes.CLOSE_UNAUTHENTICATED)
        self.exam_id = self.scope["url_route"]["kwargs"]["exam_id"]
        get_hub().add_proctor(self, self.exam_id)
        await get_hub().wait_joined()
        opened = await self.open_or_reject(db_call(_open_exam_room)(user_id=user_id, exam_id=self.exam_id))
        if opened is None or self.closed:  # closed: the process began shutting down meanwhile
            return
        self.user, rows = opened
        await self.accept()
        await self.send_snapshot(rows)
        await self.become_ready()

    async def disconnect(self, code):
        self.release()

    def release(self) -> None:
        if self.released or not self.exam_id:
            return
        self.released = True
        get_hub().remove_proctor(self, self.exam_id)

    async def resync(self, rows: list[dict]) -> None:
        """From the hub; nothing before the connect's own snapshot is out."""
        if self.ready:
            await self.send_snapshot(rows)

    async def send_snapshot(self, rows: list[dict]) -> None:
        exam_id = self.exam_id
        assert exam_id is not None  # set before the socket can be sent to
        await self.send_json(builders.snapshot_frame(exam_id, rows))

    async def do_extend(self, *, received_at: datetime, attempt_id: int, seconds: int) -> dict:
        attempt = await db_call(services.extend_attempt)(
            attempt_id=attempt_id, seconds=seconds, by=self.user, exam_id=self.exam_id
        )
        return builders.extend_ack(attempt, seconds)

    async def do_force_submit(self, *, received_at: datetime, attempt_id: int) -> dict:
        sheet = await db_call(services.force_submit_attempt)(attempt_id=attempt_id, by=self.user, exam_id=self.exam_id)
        return builders.force_submit_ack(sheet)

    messages = frames.PROCTOR_MESSAGES
    actions = {"extend": do_extend, "force_submit": do_force_submit}


def _open_exam_room(*, user_id: int, exam_id: int) -> tuple:
    """A proctor socket's handshake in one thread hop: the checked user and the exam's rows."""
    return services.open_exam_room(user_id=user_id, exam_id=exam_id), notifications.exam_rows(exam_id)
