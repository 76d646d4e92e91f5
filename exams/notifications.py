"""Every real-time message of the contract is built here and published to every process.

Services call these from `transaction.on_commit`, so nobody hears of a change that rolled
back. Consumers forward the payloads as they are.
"""

import asyncio
import logging
from datetime import datetime

import redis
from asgiref.sync import async_to_sync
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer

from . import clock
from .models import Answer, Attempt, AttemptStatus
from .selectors import proctor_attempts, timer_fields, timer_payload

logger = logging.getLogger(__name__)

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


# --- Delivery ---------------------------------------------------------------------------
#
# Every daphne process joins ONE group, FANOUT_GROUP, with a channel of its own; a change is
# published once to that group as a list of events, and each process hands every event to
# the sockets it holds (realtime/hub.py). So a batch of 5,000 timeouts is a few channel-layer
# messages per process, not 10,000 per-socket ones queued against one process's capacity,
# and a socket costs no Redis call to open or close.

FANOUT_GROUP = "exam.fanout"
PROCESS_CHANNEL_PREFIX = "exam.process."
# Events per channel-layer message: bounds a message's size (a timeout event is ~300 bytes).
EVENTS_PER_MESSAGE = 500
# Whom an event is for: the sockets of one attempt, or the proctors of one exam.
TO_ATTEMPT, TO_EXAM = "attempt", "exam"

Event = tuple[str, int, dict]


def to_student(attempt_id: int, payload: dict) -> Event:
    return TO_ATTEMPT, attempt_id, payload


def to_proctors(exam_id: int, kind: str, row: dict) -> Event:
    return TO_EXAM, exam_id, proctor_message(kind, row)


async def apublish(events: list[Event], *, timeout: float, tries: int) -> bool:
    """Send events to every process; False when Redis did not take them (logged).

    A message that could not be delivered is not lost for long: each process resyncs its
    sockets from the database when Redis comes back (realtime/hub.py), and each ticker
    settles an attempt whose end it did not hear of (realtime/ticker.py).
    """
    layer = get_channel_layer()
    for start in range(0, len(events), EVENTS_PER_MESSAGE):
        message = {"type": "fanout", "events": [list(e) for e in events[start : start + EVENTS_PER_MESSAGE]]}
        for attempt in range(tries):
            try:
                # A send that times out may still have reached Redis: receivers tolerate duplicates.
                await asyncio.wait_for(layer.group_send(FANOUT_GROUP, message), timeout)
                break
            except (redis.RedisError, OSError, TimeoutError, ChannelFull) as exc:
                if attempt == tries - 1:
                    logger.warning("could not publish %d events (%s: %s)", len(events), type(exc).__name__, exc)
                    return False
                # A pooled connection that died with a Redis restart fails once; the retry reconnects.
                await asyncio.sleep(0.05 * 2**attempt)
    return True


# On a request's path a hung Redis must not hold the response: a short bound, then resync.
REQUEST_PUBLISH = {"timeout": 0.25, "tries": 2}
# The listener's batches can afford to wait a little longer for Redis.
BATCH_PUBLISH = {"timeout": 2.0, "tries": 4}


def publish(events: list[Event], *, bound: dict = REQUEST_PUBLISH) -> bool:
    if not events:
        return True
    return async_to_sync(apublish)(events, **bound)


def _rows(attempt_ids: list[int]) -> dict[int, dict]:
    return {row["attempt_id"]: row for row in proctor_attempts(attempt_ids=attempt_ids)}


def attempt_started(attempt: Attempt) -> None:
    row = _rows([attempt.pk])[attempt.pk]
    publish([to_proctors(attempt.exam_id, "attempt_started", row)])


def answer_saved(answer: Answer, attempt: Attempt) -> None:
    row = _rows([attempt.pk])[attempt.pk]
    publish(
        [
            to_student(attempt.pk, answer_saved_message(answer)),
            to_proctors(attempt.exam_id, "answer_saved", row),
        ]
    )


def attempt_extended(attempt: Attempt, added_seconds: int) -> None:
    row = _rows([attempt.pk])[attempt.pk]
    publish(
        [
            to_student(attempt.pk, extended_message(attempt, added_seconds)),
            to_proctors(attempt.exam_id, "attempt_extended", row),
        ]
    )


def attempts_ended(attempt_ids: list[int], *, bound: dict = REQUEST_PUBLISH) -> bool:
    """`timeout`/`submitted` to each student, then `attempt_timeout`/`attempt_submitted` to proctors.

    Students first: their frames need one query, the proctors' rows a heavier one (a hard close
    ends thousands at once, and the students' screens are what must not wait).
    """
    attempts = list(Attempt.objects.filter(pk__in=attempt_ids))
    student_events = [to_student(a.pk, ended_message(a)) for a in attempts]
    delivered = publish(student_events, bound=bound)
    logger.debug("published %d ends to students", len(student_events))
    rows = _rows(attempt_ids)
    proctor_events = [
        to_proctors(a.exam_id, f"attempt_{payload['type']}", rows[a.pk])
        for a, (_, _, payload) in zip(attempts, student_events, strict=False)
    ]
    return publish(proctor_events, bound=bound) and delivered


def presence_events(connected: list[int], disconnected: list[int]) -> list[Event]:
    """`student_connected`/`student_disconnected` for the proctors of each attempt's exam."""
    rows = _rows(connected + disconnected)
    events: list[Event] = []
    for ids, kind in ((connected, "student_connected"), (disconnected, "student_disconnected")):
        events.extend(to_proctors(rows[i]["exam_id"], kind, rows[i]) for i in ids if i in rows)
    return events
