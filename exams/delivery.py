"""Delivery of socket frames to every daphne process, through the channel layer.

Every daphne process joins ONE group, FANOUT_GROUP, with a channel of its own; a change is
published once to that group as a list of events, and each process hands every event to
the sockets it holds (realtime/hub.py). So a batch of 5,000 timeouts is a few channel-layer
messages per process, not 10,000 per-socket ones queued against one process's capacity,
and a socket costs no Redis call to open or close.

What to tell whom when something happens is exams/notifications.py; the frames themselves
are built by exams/contract/builders.py.
"""

import asyncio
import logging

import redis
from asgiref.sync import async_to_sync
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

FANOUT_GROUP = "exam.fanout"
PROCESS_CHANNEL_PREFIX = "exam.process."
# Events per channel-layer message: an exam's worth (a timeout event is ~300 bytes: 1.5 MB), so a
# change to a whole exam is one round trip from a loop that may be busy; ten messages of 500 took
# 0.2-0.6 s to publish beside 5,000 sockets (bench/bench_fanout.py extend), one takes 20-180 ms.
EVENTS_PER_MESSAGE = 5000
# Whom an event is for: the sockets of one attempt, the proctors of one exam, the hubs holding
# sockets in one exam's waiting room (realtime/waiting.py: they act on it, e.g. seat them), the
# student sockets of one exam (an announcement to all: one event however many students sit it), or
# the hubs holding one exam's proctors, to read and send them many attempts' rows
# (realtime/proctor_feed.py).
TO_ATTEMPT, TO_EXAM, TO_WAITING, TO_EXAM_STUDENTS = "attempt", "exam", "waiting", "exam_students"
TO_EXAM_ROWS = "exam_rows"

# (one of the targets above, the attempt's or exam's id, the frame)
Event = tuple[str, int, dict]


def to_student(attempt_id: int, frame: dict) -> Event:
    """A frame for the sockets of one attempt."""
    return TO_ATTEMPT, attempt_id, frame


def to_exam_students(exam_id: int, frame: dict) -> Event:
    """A frame for every student socket of one exam (realtime/hub.py picks them out)."""
    return TO_EXAM_STUDENTS, exam_id, frame


def to_proctors(exam_id: int, frame: dict) -> Event:
    """A frame for the proctor sockets of one exam."""
    return TO_EXAM, exam_id, frame


def rows_to_proctors(exam_id: int, kind: str, attempt_ids: list[int]) -> Event:
    """`kind` (frames.ATTEMPT_EVENTS) with each attempt's row, for the proctor sockets of one exam: read
    by the processes holding them, not by the publisher."""
    return TO_EXAM_ROWS, exam_id, {"kind": kind, "attempt_ids": attempt_ids}


def to_waiting_room(exam_id: int, signal: dict) -> Event:
    """A signal for the processes holding waiting sockets of one exam (not a frame: they act on it)."""
    return TO_WAITING, exam_id, signal


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
    """`apublish` from synchronous code (a service's on-commit, the listener's thread)."""
    if not events:
        return True
    return async_to_sync(apublish)(events, **bound)
