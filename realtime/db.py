"""The ORM from async code: a bounded pool of worker threads that keep their connections."""

import asyncio
import functools
import os
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from asgiref.sync import SyncToAsync
from django.conf import settings
from django.db import connections

P = ParamSpec("P")
R = TypeVar("R")


def keeping_connection(func: Callable[P, R]) -> Callable[P, R]:
    """`func` for a pool thread that keeps its database connection between calls.

    CONN_MAX_AGE is 0 under ASGI (a request's connection must not outlive it), which would make
    every pool call pay a MySQL connect. A pool thread is long-lived and its pool is bounded, so
    its connection persists; one that failed (or fails the health check) is dropped and the
    next call reconnects, so a database restart heals.
    """

    @functools.wraps(func)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        for conn in connections.all(initialized_only=True):
            conn.close_if_unusable_or_obsolete()
        try:
            return func(*args, **kwargs)
        finally:
            for conn in connections.all(initialized_only=True):
                # connect() set close_at to now (CONN_MAX_AGE 0): this thread's connection has no age limit.
                conn.close_at = None

    return call


# Calls running in pool threads right now (a thread, not the awaiting task, counts them: a
# cancelled caller does not stop its thread).
_running = 0
_running_lock = threading.Lock()


def _counted(func: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(func)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        global _running
        with _running_lock:
            _running += 1
        try:
            return func(*args, **kwargs)
        finally:
            with _running_lock:
                _running -= 1

    return call


def in_pool(func: Callable[P, R], executor: ThreadPoolExecutor) -> Callable[P, Awaitable[R]]:
    """`func` as an awaitable run in a thread of `executor`, which keeps its database connection."""
    # SyncToAsync (not a bare run_in_executor): async_to_sync inside `func`, e.g. the group
    # sends of notifications on commit, runs back on the caller's loop.
    return SyncToAsync(_counted(keeping_connection(func)), thread_sensitive=False, executor=executor)


async def wait_idle(timeout: float) -> bool:
    """Wait, with the loop running, until no pool call is queued or running; False on timeout.

    A call publishes on commit back through the loop that made it: a loop closed under it
    (a test ending, a process stopping) would leave its thread waiting forever.
    """
    deadline = time.monotonic() + timeout
    while _running or (_pool is not None and not _pool._work_queue.empty()):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


_pool: ThreadPoolExecutor | None = None
_pool_pid: int | None = None
_pool_lock = threading.Lock()


def db_pool() -> ThreadPoolExecutor:
    """This process's DB_POOL_SIZE threads for socket database work: at most that many connections.

    Made on first use and again in a forked child (a parent's threads do not survive fork);
    any event loop of the process may use it.
    """
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(settings.DB_POOL_SIZE, thread_name_prefix="db-pool")
            _pool_pid = os.getpid()
        return _pool


def db_call(func: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """`func` as an awaitable run in the process's database pool (see `db_pool`).

    Channels' default (thread_sensitive) runs every call of a process in ONE thread, so a
    slow answer save would queue every other socket's; the service layer's calls are
    self-contained transactions, so they can run side by side.
    """

    @functools.wraps(func)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        return await in_pool(func, db_pool())(*args, **kwargs)

    return call
