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
import concurrent.futures
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from asgiref.sync import async_to_sync
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

FANOUT_GROUP = "exam.fanout"
PROCESS_CHANNEL_PREFIX = "exam.process."
# Events per channel-layer message: bounds a message's size (a timeout event is ~300 bytes).
EVENTS_PER_MESSAGE = 500
# Whom an event is for: the sockets of one attempt, the proctors of one exam, the hubs holding
# sockets in one exam's waiting room (realtime/waiting.py: they act on it, e.g. seat them), or the
# student sockets of one exam (an announcement to all: one event however many students sit it).
TO_ATTEMPT, TO_EXAM, TO_WAITING, TO_EXAM_STUDENTS = "attempt", "exam", "waiting", "exam_students"

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


_thread = threading.local()
# Publishes handed off to a loop and not finished yet, with their loop (a test waits for its
# loop's before the loop closes; one handed to a loop closed since will never finish).
_handed_off: dict[concurrent.futures.Future, asyncio.AbstractEventLoop] = {}
_handed_off_lock = threading.Lock()


def _forget(future: concurrent.futures.Future) -> None:
    with _handed_off_lock:
        _handed_off.pop(future, None)


def handed_off(loop: asyncio.AbstractEventLoop) -> int:
    """How many publishes handed off to `loop` are still under way."""
    with _handed_off_lock:
        for future in [f for f, on in _handed_off.items() if on.is_closed()]:
            del _handed_off[future]
        return sum(1 for on in _handed_off.values() if on is loop)


@contextmanager
def handing_off_to(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """Within it, `publish` hands its events to `loop` and returns at once.

    For a socket process's database pool (realtime/db.py): a pool thread that waited for the
    publish waited for the very event loop it serves, so under load (a reconnect storm) each
    answer held one of the few pool threads for as long as the loop took to get round to it,
    and the pool's queue, presence and rights reads included, grew past any reply timeout.
    """
    _thread.loop = loop
    try:
        yield
    finally:
        _thread.loop = None


def publish(events: list[Event], *, bound: dict = REQUEST_PUBLISH) -> bool:
    """`apublish` from synchronous code (a service's on-commit, the listener's thread).

    In a thread `handing_off_to` a running loop it is scheduled there and True means "handed
    off" (apublish logs a failure; the hubs resync after an outage); elsewhere it waits.
    """
    if not events:
        return True
    loop = getattr(_thread, "loop", None)
    if loop is not None and loop.is_running():
        future = asyncio.run_coroutine_threadsafe(apublish(events, **bound), loop)
        with _handed_off_lock:
            _handed_off[future] = loop
        future.add_done_callback(_forget)
        return True
    return async_to_sync(apublish)(events, **bound)
