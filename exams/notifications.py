"""Every real-time message of the contract is built here and sent to channel-layer groups.

Services call these from `transaction.on_commit`, so nobody hears of a change that rolled
back. Consumers forward the payloads as they are.
"""

import asyncio
import logging
from datetime import datetime

from asgiref.sync import async_to_sync
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer

from . import clock
from .models import Answer, Attempt, AttemptStatus
from .selectors import proctor_attempts, timer_fields, timer_payload

logger = logging.getLogger(__name__)

# Handler names on the consumers.
STUDENT_HANDLER = "attempt.message"
PROCTOR_HANDLER = "proctor.message"


def attempt_group(attempt_id: int) -> str:
    return f"attempt.{attempt_id}"


def proctor_group(exam_id: int) -> str:
    return f"proctor.exam.{exam_id}"


# --- Message shapes -------------------------------------------------------------------

def timer_message(attempt: Attempt) -> dict:
    return {"type": "timer", **timer_payload(attempt)}


def tick_message(attempt_id: int, deadline: datetime, at: datetime) -> dict:
    """The `timer` frame of a tick, from a deadline held in memory."""
    return {"type": "timer", **timer_fields(attempt_id, AttemptStatus.ONGOING, deadline, at)}


def result_message(result: dict) -> dict:
    """The reply to a socket `submit`: `submitted` or `timeout` with the full result."""
    kind = "timeout" if result["status"] == AttemptStatus.TIMEOUT else "submitted"
    return {"type": kind, **result}


def extended_message(attempt: Attempt, added_seconds: int) -> dict:
    return {"type": "extended", **timer_payload(attempt), "added_seconds": added_seconds}


def ended_message(attempt: Attempt) -> dict:
    kind = "timeout" if attempt.status == AttemptStatus.TIMEOUT else "submitted"
    return {
        "type": kind,
        "attempt_id": attempt.pk,
        "status": attempt.status,
        "score": attempt.score or 0,
        "max_score": attempt.max_score or 0,
        "deadline": clock.iso(attempt.deadline_at),
        "server_time": clock.iso(clock.now()),
    }


def answer_saved_message(answer: Answer) -> dict:
    return {
        "type": "answer_saved",
        "attempt_id": answer.attempt_id,
        "question_id": answer.question_id,
        "selected_option": answer.selected_option,
        "saved_at": clock.iso(answer.saved_at),
    }


def proctor_message(kind: str, attempt_row: dict) -> dict:
    return {"type": kind, "attempt": attempt_row}


# --- Sending --------------------------------------------------------------------------

async def _send(group: str, handler: str, payload: dict) -> None:
    try:
        await get_channel_layer().group_send(group, {"type": handler, "payload": payload})
    except ChannelFull:
        logger.warning("channel layer full: dropped %s for group %s", payload.get("type"), group)


# Group sends at once: each holds a Redis connection, and a timeout of 1000 attempts is
# 2000 sends (unbounded, they exhaust the pool: "Too many connections").
MAX_CONCURRENT_SENDS = 32


async def asend_all(messages: list[tuple[str, str, dict]]) -> None:
    """Send (group, handler, payload) triples concurrently, a bounded number at a time."""
    slots = asyncio.Semaphore(MAX_CONCURRENT_SENDS)

    async def send(message: tuple[str, str, dict]) -> None:
        async with slots:
            await _send(*message)

    await asyncio.gather(*(send(m) for m in messages))


def _send_all(messages: list[tuple[str, str, dict]]) -> None:
    if messages:
        async_to_sync(asend_all)(messages)


def _to_student(attempt_id: int, payload: dict) -> tuple[str, str, dict]:
    return attempt_group(attempt_id), STUDENT_HANDLER, payload


def _to_proctors(exam_id: int, kind: str, row: dict) -> tuple[str, str, dict]:
    return proctor_group(exam_id), PROCTOR_HANDLER, proctor_message(kind, row)


def _rows(attempt_ids: list[int]) -> dict[int, dict]:
    return {row["attempt_id"]: row for row in proctor_attempts(attempt_ids=attempt_ids)}


def attempt_started(attempt: Attempt) -> None:
    row = _rows([attempt.pk])[attempt.pk]
    _send_all([_to_proctors(attempt.exam_id, "attempt_started", row)])


def answer_saved(answer: Answer, attempt: Attempt) -> None:
    row = _rows([attempt.pk])[attempt.pk]
    _send_all([
        _to_student(attempt.pk, answer_saved_message(answer)),
        _to_proctors(attempt.exam_id, "answer_saved", row),
    ])


def attempt_extended(attempt: Attempt, added_seconds: int) -> None:
    row = _rows([attempt.pk])[attempt.pk]
    _send_all([
        _to_student(attempt.pk, extended_message(attempt, added_seconds)),
        _to_proctors(attempt.exam_id, "attempt_extended", row),
    ])


def attempts_ended(attempt_ids: list[int]) -> None:
    """`timeout`/`submitted` to each student and `attempt_timeout`/`attempt_submitted` to proctors."""
    attempts = Attempt.objects.filter(pk__in=attempt_ids)
    rows = _rows(attempt_ids)
    messages = []
    for attempt in attempts:
        payload = ended_message(attempt)
        messages.append(_to_student(attempt.pk, payload))
        messages.append(_to_proctors(attempt.exam_id, f"attempt_{payload['type']}", rows[attempt.pk]))
    _send_all(messages)


def presence_changed(attempt_id: int, *, connected: bool) -> None:
    rows = _rows([attempt_id])
    if attempt_id in rows:
        row = rows[attempt_id]
        kind = "student_connected" if connected else "student_disconnected"
        _send_all([_to_proctors(row["exam_id"], kind, row)])
