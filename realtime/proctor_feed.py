"""The proctors' rows of a change to many attempts, read in the processes that hold the exam's proctors.

An exam-wide change (a time change, a pause, a resume) publishes its students' frames, then one
small event naming the attempts (`delivery.rows_to_proctors`). Only a hub holding proctor sockets
of that exam reads their rows, in the background, after the students' frames were handed out:
5,000 rows are about 0.4 s of Python, which on the request's path delayed the students' screens
and shipped ~2.5 MB to every process, most of which hold no proctor of the exam.

While an exam's rows are being read, that exam's later proctor frames wait behind them, so every
proctor socket still sees its exam's events in the order they were published.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from django.db import DatabaseError

from exams import notifications

from .db import db_call

logger = logging.getLogger(__name__)

# Rows read per query: the first proctor rows go out while the rest are read.
ROWS_PER_READ = 1000

# ("rows", {"kind", "attempt_ids"}) or ("frame", frame), in publishing order.
Item = tuple[str, dict]


class ProctorFeed:
    def __init__(self, deliver: Callable[[int, list[dict]], Awaitable[None]], on_lost: Callable[[], None]) -> None:
        # deliver(exam_id, frames): to the exam's proctor sockets held now. on_lost(): rows could not
        # be read, so this process must resync its sockets from the database.
        self._deliver = deliver
        self._on_lost = on_lost
        self._queues: dict[int, list[Item]] = {}
        self._workers: dict[int, asyncio.Task] = {}

    def busy(self, exam_id: int) -> bool:
        """The exam's proctor frames must queue here (rows ahead of them are still being read)."""
        return exam_id in self._queues

    def rows(self, exam_id: int, request: dict) -> None:
        """Read and send the rows `request` names (`kind`, `attempt_ids`) once what is queued is out."""
        self._enqueue(exam_id, ("rows", request))

    def frame(self, exam_id: int, frame: dict) -> None:
        """A proctor frame of a busy exam: sent after the rows queued before it."""
        self._enqueue(exam_id, ("frame", frame))

    def _enqueue(self, exam_id: int, item: Item) -> None:
        self._queues.setdefault(exam_id, []).append(item)
        if exam_id not in self._workers:
            self._workers[exam_id] = asyncio.get_running_loop().create_task(
                self._drain(exam_id), name=f"hub-proctor-rows-{exam_id}"
            )

    async def _drain(self, exam_id: int) -> None:
        queue = self._queues[exam_id]
        try:
            while queue:
                what, payload = queue.pop(0)
                try:
                    if what == "frame":
                        await self._deliver(exam_id, [payload])
                    else:
                        await self._send_rows(exam_id, payload["kind"], payload["attempt_ids"])
                except Exception:  # one item's failure is never the next one's
                    logger.exception("sending exam %d's proctors their %s failed", exam_id, what)
        finally:
            del self._queues[exam_id], self._workers[exam_id]

    async def _send_rows(self, exam_id: int, kind: str, attempt_ids: list[int]) -> None:
        for start in range(0, len(attempt_ids), ROWS_PER_READ):
            chunk = attempt_ids[start : start + ROWS_PER_READ]
            try:
                frames = await db_call(notifications.proctor_frames)(kind, chunk)
            except DatabaseError as exc:
                logger.warning("could not read %d proctor rows (%s); resyncing at the next beat", len(chunk), exc)
                self._on_lost()
                return
            await self._deliver(exam_id, frames)

    async def stop(self) -> None:
        """On shutdown: whatever is still queued is lost with the sockets."""
        workers = list(self._workers.values())
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
