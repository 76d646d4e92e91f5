"""The ORM and Redis from async code: worker threads for the one, bounded concurrency for the other."""

import asyncio
import weakref

from channels.db import DatabaseSyncToAsync


def db_call(func):
    """`func` as an awaitable run in a worker thread with its own database connection.

    Channels' default (thread_sensitive) runs every call of a process in ONE thread, so a
    slow answer save would queue every other socket's; the service layer's calls are
    self-contained transactions, so they can run side by side.
    """
    return DatabaseSyncToAsync(func, thread_sensitive=False)


# Redis calls that every socket makes on connect and disconnect (group membership, presence).
# A school's network blip opens or closes thousands at once; unbounded, they exhaust the
# Redis connection pools ("Too many connections") and the calls fail instead of waiting.
REDIS_CALLS_IN_FLIGHT = 200
_slots: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = weakref.WeakKeyDictionary()


def redis_slot() -> asyncio.Semaphore:
    """The running loop's bound on concurrent per-socket Redis calls."""
    loop = asyncio.get_running_loop()
    slot = _slots.get(loop)
    if slot is None:
        slot = _slots[loop] = asyncio.Semaphore(REDIS_CALLS_IN_FLIGHT)
    return slot
