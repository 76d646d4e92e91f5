"""A start while the whole exam is paused, or racing its pause, comes out paused (issue 11 §4).

One rule on the exam's row: every start (services.start_attempt, the waiting room's seating) reads the
exam's `paused_at` under a shared row lock inside its own transaction, and the exam-wide pause takes
the row's exclusive lock before it reads the clock and the running attempts (time_control.pause). So
a start either commits before the pause reads the running attempts, and is paused with them, or waits
for the pause to commit and reads it, and is created paused. Shared locks do not wait for each other:
the starts of one exam still run side by side.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from .models import AttemptEvent, EventKind, Exam, ExamEvent, ExamEventKind

# The shared row lock of each database; SQLite has none (its writers take the whole database in turn).
_SHARE = {"mysql": " LOCK IN SHARE MODE", "postgresql": " FOR SHARE"}


@dataclass(frozen=True)
class ExamPause:
    at: datetime
    detail: dict  # the exam's pause: category, note, who (its `exam_paused` event)


def locked_pause(exam_id: int) -> ExamPause | None:
    """The exam's pause as it stands, read under a shared lock of its row held to the caller's commit
    (inside the start's transaction); None when it is not paused."""
    table = connection.ops.quote_name(Exam._meta.db_table)
    sql = f"SELECT id, paused_at FROM {table} WHERE id = %s{_SHARE.get(connection.vendor, '')}"
    row = next(iter(Exam.objects.raw(sql, [exam_id])), None)
    if row is None or row.paused_at is None:
        return None
    detail = (
        ExamEvent.objects.filter(exam_id=exam_id, kind=ExamEventKind.EXAM_PAUSED)
        .order_by("-id")
        .values_list("detail", flat=True)
        .first()
    )
    return ExamPause(row.paused_at, dict(detail or {}))


def paused_from(pause: ExamPause, started_at: datetime) -> datetime:
    """Where the pause of an attempt started under it begins: at its start (no time before it counts)."""
    return max(started_at, pause.at)


def record_pauses(attempts, pause: ExamPause) -> None:
    """The `paused` events of attempts started under the exam's pause (their `paused_at`), with its reason:
    the audit replays them and the resume's `unpaused` events carry the same reason."""
    AttemptEvent.objects.bulk_create(
        AttemptEvent(attempt=a, kind=EventKind.PAUSED, at=a.paused_at, detail={**pause.detail, "at_start": True})
        for a in attempts
    )
