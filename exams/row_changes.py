"""Which proctor rows changed since a moment: what bounds a reconnecting dashboard's snapshot.

Every change a proctor's row shows is written with an AttemptEvent in the same transaction
(a start, an answer, an extension, a pause, an end, a socket's first opening or last
closing...). A dashboard that held every row as of `since` (the newest `server_time` among
its rows) needs only the attempts with an event committed after it: those are read by event
id, a range of the primary key, from a watermark found by time.

Ids are handed out at insert and committed in any order, and an answer's event carries the
time it was received, which may be long before it was stored (the database was away). So
the watermark is the newest event other than an answer that is older than `since` by
GRACE: an event committed after the dashboard's `since` was inserted after it, hence after
the watermark, as long as no transaction (or delivery of its event) takes longer than GRACE.
A `since` older than MAX_AGE gets the full snapshot: the rows changed since are most of
them, and the scan back to the watermark would be long.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from . import clock
from .models import Attempt, AttemptEvent, EventKind

GRACE = timedelta(seconds=30)
MAX_AGE = timedelta(minutes=10)


def changed_attempt_ids(*, exam_id: int, since: datetime) -> list[int] | None:
    """The exam's attempts with a change after `since`, in id order; None when `since` is too old to say."""
    if clock.now() - since > MAX_AGE:
        return None
    watermark = (
        AttemptEvent.objects.filter(at__lt=since - GRACE)
        .exclude(kind=EventKind.ANSWER_SAVED)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    # By id alone, then by exam: a join would walk every event of the exam's attempts instead.
    touched = set(AttemptEvent.objects.filter(pk__gt=watermark or 0).values_list("attempt_id", flat=True))
    return _of_exam(exam_id, touched)


def _of_exam(exam_id: int, attempt_ids: Iterable[int]) -> list[int]:
    ids = sorted(attempt_ids)
    found: list[int] = []
    for start in range(0, len(ids), 2000):  # bounded IN lists
        chunk = ids[start : start + 2000]
        found.extend(Attempt.objects.filter(pk__in=chunk, exam_id=exam_id).values_list("pk", flat=True))
    return sorted(found)
