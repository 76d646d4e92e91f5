"""One ticker task per process pushes `timer` frames to every student socket it holds.

It works from the deadlines it holds in memory (updated by `extended` and end events), so a
tick costs no Redis or database call. A frame is encoded once per attempt and sent to each
of that attempt's sockets, on second boundaries.
"""

import asyncio
import json
import logging
import math
import time
import weakref
from datetime import datetime

from channels.db import database_sync_to_async
from django.conf import settings

from exams import clock, notifications, services
from exams.models import ExpiryPath

logger = logging.getLogger(__name__)


class Ticker:
    def __init__(self) -> None:
        self.sockets: dict[int, set] = {}
        self.deadlines: dict[int, datetime] = {}
        self._rescues: set[int] = set()
        self._task: asyncio.Task | None = None

    def add(self, consumer, attempt_id: int, deadline: datetime) -> None:
        self.sockets.setdefault(attempt_id, set()).add(consumer)
        self.deadlines[attempt_id] = deadline
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="exam-ticker")

    def set_deadline(self, attempt_id: int, deadline: datetime) -> None:
        if attempt_id in self.deadlines:
            self.deadlines[attempt_id] = deadline

    def remove(self, consumer, attempt_id: int) -> None:
        group = self.sockets.get(attempt_id)
        if group is None:
            return
        group.discard(consumer)
        if not group:
            del self.sockets[attempt_id]
            self.deadlines.pop(attempt_id, None)
            self._rescues.discard(attempt_id)

    @property
    def socket_count(self) -> int:
        return sum(len(group) for group in self.sockets.values())

    async def _run(self) -> None:
        tick = settings.EXAM["TICK_SECONDS"]
        while True:
            now_s = time.time()
            await asyncio.sleep(math.floor(now_s / tick + 1) * tick - now_s)
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("tick failed")

    async def tick(self) -> None:
        now = clock.now()
        slack = settings.EXAM["ON_ACCESS_SLACK_SECONDS"]
        for attempt_id, group in list(self.sockets.items()):
            deadline = self.deadlines[attempt_id]
            text = json.dumps(notifications.tick_message(attempt_id, deadline, now))
            for consumer in list(group):
                await consumer.send(text_data=text)
            if (now - deadline).total_seconds() > slack and attempt_id not in self._rescues:
                # No timeout event reached us: don't depend on the listener alone.
                self._rescues.add(attempt_id)
                asyncio.get_running_loop().create_task(self._expire(attempt_id))

    async def _expire(self, attempt_id: int) -> None:
        try:
            await database_sync_to_async(services.expire_attempt)(attempt_id=attempt_id, path=ExpiryPath.ON_ACCESS)
        except Exception:
            logger.exception("on-access expiry of attempt %s failed", attempt_id)
            self._rescues.discard(attempt_id)


_tickers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Ticker]" = weakref.WeakKeyDictionary()


def get_ticker() -> Ticker:
    """The running loop's ticker (one per process in daphne)."""
    loop = asyncio.get_running_loop()
    ticker = _tickers.get(loop)
    if ticker is None:
        ticker = _tickers[loop] = Ticker()
    return ticker
