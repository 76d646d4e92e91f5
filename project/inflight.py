"""HTTP requests under way in this process: counted, so that a graceful shutdown can wait for
them, and bounded, so that a burst can't open more database connections than MySQL allows.

Under ASGI every request runs its view in a thread of its own with a connection of its own
(closed when it ends): 200 requests at once would be 200 connections, past MariaDB's default
151 for the whole fleet. Past HTTP_CONCURRENCY a request waits on the event loop (cheap) for
a slot instead.
"""

import asyncio
import weakref
from collections.abc import Awaitable, Callable

from django.conf import settings

ASGIApp = Callable[..., Awaitable[None]]


class InFlight:
    """How many calls of the wrapped ASGI apps have not finished, waiting ones included."""

    def __init__(self) -> None:
        self.count = 0
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def _slot(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        slot = self._slots.get(loop)
        if slot is None:
            slot = self._slots[loop] = asyncio.Semaphore(settings.HTTP_CONCURRENCY)
        return slot

    def around(self, app: ASGIApp) -> ASGIApp:
        """`app`, counted from its call to its end however it ends, at most HTTP_CONCURRENCY at once."""

        async def counted(scope, receive, send) -> None:
            self.count += 1
            try:
                async with self._slot():
                    await app(scope, receive, send)
            finally:
                self.count -= 1

        return counted


http_requests = InFlight()
