"""WebSocket consumers: they only move messages between sockets and the service layer."""

import json
import logging
import time
from datetime import datetime

import redis
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError

from exams import notifications, presence, selectors, services
from exams.errors import ServiceError

from .db import db_call, redis_slot
from .messages import BadMessage, parse_client_message
from .ticker import get_ticker

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


@db_call
def _load_attempt(attempt_id: int) -> dict | None:
    """The attempt's owner and clock as plain values (no lazy ORM objects across the boundary)."""
    try:
        attempt = selectors.get_attempt(attempt_id)
    except ServiceError:
        return None
    return {"user_id": attempt.user_id, "exam_id": attempt.exam_id}


@db_call
def _snapshot(*, user, attempt_id: int) -> tuple[dict, dict | None, datetime]:
    """The `timer` message (timing out on access if due) and the end message if it has ended."""
    attempt = services.current_attempt(user=user, attempt_id=attempt_id)
    ended = None if attempt.is_ongoing else notifications.ended_message(attempt)
    return notifications.timer_message(attempt), ended, attempt.deadline_at


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
    """Shared plumbing: close codes, bounded JSON input, errors as `error` messages."""

    groups_joined: list[str]

    async def reject(self, code: int) -> None:
        # Accept first: a close before the handshake completes can't carry a code.
        await self.accept()
        await self.close(code=code)

    async def send_json(self, payload: dict) -> None:
        await self.send(text_data=json.dumps(payload))

    async def send_error(self, code: str, message: str, request_id=None) -> None:
        payload = {"type": "error", "code": code, "message": message}
        if request_id is not None:
            payload["request_id"] = request_id
        await self.send_json(payload)

    async def receive(self, text_data=None, bytes_data=None):
        if not hasattr(self, "bucket"):
            self.bucket = TokenBucket(settings.EXAM["WS_MESSAGES_PER_SECOND"], settings.EXAM["WS_MESSAGE_BURST"])
        allowed = self.bucket.take()
        # Parsing is bounded by the size limit, and gives the request_id a throttled reply echoes.
        try:
            message = parse_client_message(text_data, bytes_data, allowed=self.actions)
        except BadMessage as exc:
            if allowed:
                await self.send_error(exc.code, exc.message, exc.request_id)
            else:
                await self.send_error("throttled", "Too many messages; slow down.", exc.request_id)
            return
        request_id = message.pop("request_id", None)
        if not allowed:
            await self.send_error("throttled", "Too many messages; slow down.", request_id)
            return
        try:
            reply = await self.actions[message.pop("type")](self, **message)
        except ServiceError as exc:
            await self.send_error(exc.code, exc.message, request_id)
            return
        except (redis.RedisError, DatabaseError):
            logger.warning("backing service failed during a socket action", exc_info=True)
            await self.send_error("service_unavailable", "A backing service is unavailable; please retry.", request_id)
            return
        if request_id is not None:
            reply["request_id"] = request_id
        await self.send_json(reply)

    async def join(self, group: str) -> None:
        async with redis_slot():
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined.append(group)

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            async with redis_slot():
                await self.channel_layer.group_discard(group, self.channel_name)


class AttemptConsumer(_ServiceSocket):
    """A student's attempt: `/ws/attempts/<id>/`."""

    async def connect(self):
        self.groups_joined = []
        self.attempt_id = None
        user = self.scope["user"]
        if not user.is_authenticated:
            return await self.reject(CLOSE_UNAUTHENTICATED)
        attempt_id = self.scope["url_route"]["kwargs"]["attempt_id"]
        found = await _load_attempt(attempt_id)
        if found is None:
            return await self.reject(CLOSE_NOT_FOUND)
        if found["user_id"] != user.pk:
            return await self.reject(CLOSE_FORBIDDEN)
        # Join first, then read the state, so nothing sent in between is missed.
        await self.join(notifications.attempt_group(attempt_id))
        await self.accept()
        timer, ended, deadline = await _snapshot(user=user, attempt_id=attempt_id)
        self.attempt_id, self.ended = attempt_id, ended is not None
        self.acked: set[tuple] = set()
        await self.send_json(timer)
        if ended:
            await self.send_json(ended)
        else:
            get_ticker().add(self, attempt_id, deadline)
        async with redis_slot():
            first = await presence.amark_connected(attempt_id, self.channel_name)
        if first:
            await db_call(services.log_presence)(attempt_id=attempt_id, connected=True)

    async def disconnect(self, code):
        await super().disconnect(code)
        if self.attempt_id is None:
            return
        get_ticker().remove(self, self.attempt_id)
        try:
            async with redis_slot():
                last = await presence.amark_disconnected(self.attempt_id, self.channel_name)
            if last:
                await db_call(services.log_presence)(attempt_id=self.attempt_id, connected=False)
        except (redis.RedisError, DatabaseError):
            logger.warning("could not record the disconnect of attempt %s", self.attempt_id, exc_info=True)

    # Client actions ----------------------------------------------------------------

    async def do_answer(self, *, question_id: int, selected_option: str) -> dict:
        answer = await db_call(services.save_answer)(
            user=self.scope["user"], attempt_id=self.attempt_id, question_id=question_id, selected_option=selected_option
        )
        reply = notifications.answer_saved_message(answer)
        self.acked.add((reply["question_id"], reply["saved_at"]))
        return reply

    async def do_submit(self) -> dict:
        result = await db_call(services.submit_attempt)(
            user=self.scope["user"], attempt_id=self.attempt_id
        )
        self._stop_ticking()
        return notifications.result_message(result)

    actions = {"answer": do_answer, "submit": do_submit}

    # Group events ------------------------------------------------------------------

    async def attempt_message(self, event):
        payload = event["payload"]
        kind = payload["type"]
        if kind == "answer_saved":
            key = (payload["question_id"], payload["saved_at"])
            if key in self.acked:  # this socket's own reply already said so
                self.acked.discard(key)
                return
        elif kind == "extended":
            get_ticker().set_deadline(self.attempt_id, datetime.fromisoformat(payload["deadline"]))
        elif kind in ("timeout", "submitted"):
            if self.ended:
                return
            self._stop_ticking()
        await self.send_json(payload)

    def _stop_ticking(self) -> None:
        self.ended = True
        get_ticker().remove(self, self.attempt_id)


class ProctorConsumer(_ServiceSocket):
    """A proctor's live view of one exam: `/ws/proctor/exams/<exam_id>/`."""

    async def connect(self):
        self.groups_joined = []
        user = self.scope["user"]
        if not user.is_authenticated:
            return await self.reject(CLOSE_UNAUTHENTICATED)
        if not user.is_staff:
            return await self.reject(CLOSE_FORBIDDEN)
        self.exam_id = self.scope["url_route"]["kwargs"]["exam_id"]
        try:
            await db_call(selectors.get_exam)(self.exam_id)
        except ServiceError:
            return await self.reject(CLOSE_NOT_FOUND)
        await self.join(notifications.proctor_group(self.exam_id))
        await self.accept()
        attempts = await db_call(selectors.proctor_attempts)(exam_id=self.exam_id)
        await self.send_json({"type": "snapshot", "exam_id": self.exam_id, "attempts": attempts})

    async def do_extend(self, *, attempt_id: int, seconds: int) -> dict:
        attempt = await db_call(services.extend_attempt)(
            attempt_id=attempt_id, seconds=seconds, by=self.scope["user"], exam_id=self.exam_id
        )
        return {"type": "ack", "action": "extend", **selectors.timer_payload(attempt), "added_seconds": seconds}

    async def do_force_submit(self, *, attempt_id: int) -> dict:
        result = await db_call(services.force_submit_attempt)(
            attempt_id=attempt_id, by=self.scope["user"], exam_id=self.exam_id
        )
        return {"type": "ack", "action": "force_submit", **result}

    actions = {"extend": do_extend, "force_submit": do_force_submit}

    async def proctor_message(self, event):
        await self.send_json(event["payload"])
