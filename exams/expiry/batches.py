"""The expiry engine's database work: time out a batch of attempts, reconcile, re-arm.

A failing attempt must not hold up the others (healthchecks' sendalerts moves a failing
check's `alert_after` ahead, "otherwise sendalerts may end up in a crash loop"): a batch that
fails is tried again one attempt at a time, and an attempt that fails on its own while the
database answers (a row no UPDATE gets through) is logged once and set aside by the listener
(`SetAside`, in its process's memory) for SET_ASIDE_SECONDS. The sweeper and keyspace paths
then drop it from Redis; the reconciler, which reads the database, tries it again once that
time is up.
"""

import logging
import time
from collections.abc import Iterable
from datetime import datetime

from django.db import connection
from django.db.models import Q

from exams import clock, deadlines, services, timers
from exams.models import Attempt, ExpiryPath

logger = logging.getLogger(__name__)

SET_ASIDE_SECONDS = 60.0


class SetAside:
    """Attempts whose timeout failed on their own, remembered by one listener (thread-safe under the GIL)."""

    def __init__(self, seconds: float = SET_ASIDE_SECONDS) -> None:
        self.seconds = seconds
        # attempt id -> when (time.monotonic) it may be tried again. An entry outlives its rest,
        # so that the attempt is logged once however often it fails, until it times out.
        self._until: dict[int, float] = {}

    def resting(self) -> set[int]:
        """The attempts not to be tried yet."""
        now = time.monotonic()
        return {attempt_id for attempt_id, until in self._until.items() if until > now}

    def add(self, attempt_id: int) -> bool:
        """Set it aside (again); True the first time."""
        first = attempt_id not in self._until
        self._until[attempt_id] = time.monotonic() + self.seconds
        return first

    def discard(self, attempt_id: int) -> bool:
        """It timed out after all; True if it was set aside."""
        return self._until.pop(attempt_id, None) is not None


def expire_batch(
    *, attempt_ids: Iterable[int], path: str, set_aside: SetAside, notify: bool = True, claimed: bool = False
) -> tuple[list[Attempt], list[int]]:
    """`services.expire_attempts`, isolating failures: (the attempts timed out, the ids set aside).
    `claimed`: the ids are the listener's claims (see `services.expire_attempts`).

    Raises only while the database is down (after a failure, `SELECT 1` fails too).
    """
    rest, given = set_aside.resting(), list(attempt_ids)
    ids = [i for i in given if i not in rest]
    aside = [i for i in given if i in rest]
    try:
        ended = services.expire_attempts(attempt_ids=ids, path=path, notify=notify, claimed=claimed)
    except Exception as exc:
        ping_database()  # raises while the database is down: an outage, not a bad attempt
        if len(ids) > 1:
            logger.warning("%s batch of %d failed (%s); trying its attempts one by one", path, len(ids), exc)
        ended = []
        for attempt_id in ids:
            try:
                ended += services.expire_attempts(attempt_ids=[attempt_id], path=path, notify=notify, claimed=claimed)
            except Exception:
                ping_database()
                if set_aside.add(attempt_id):
                    logger.exception(
                        "attempt %s could not be timed out; set aside, tried again every %.0f s",
                        attempt_id,
                        set_aside.seconds,
                    )
                aside.append(attempt_id)
    for attempt in ended:
        if set_aside.discard(attempt.pk):
            logger.info("attempt %s timed out after being set aside", attempt.pk)
    return ended, aside


class TimerAudit:
    """Checks that Redis holds a timer for every armed attempt, without rewriting every one each run.

    Armed: running, or overdue in its hand-in window (`Attempt.objects.armed`). Each run compares
    two counts taken at one cutoff: armed attempts in the database and members of the deadline
    index (indexed COUNTs, one ZCOUNT). Fewer in Redis means something was lost: every armed
    attempt is then checked, a chunk at a time (one indexed query and one script call per
    REPAIR_CHUNK attempts), and only what is missing is written. Equal counts still check one
    chunk, the next after the last run's, so a lost timer key whose index member survived (which
    the sweeper still times out on time) is re-armed within a full turn of the chunks. A caller
    that knows Redis may have lost data (start, reconnect, `exam:alive` gone) asks for `full`.
    Chunks follow the order of the timer's instant (for running attempts, the (status, deadline)
    index), so each is a range read, not a sort. One per listener, used from one thread at a time.
    """

    # Counts skip attempts falling due within this margin: the sweeper may be claiming them.
    MARGIN_MS = 2000

    def __init__(self, chunk: int = timers.REPAIR_CHUNK) -> None:
        self.chunk = chunk
        # The rolling check's place: which part of `armed_parts`, and the last (instant, id) checked in it.
        self.place: tuple[int, tuple[datetime, int] | None] = (0, None)
        self.last_counts: tuple[int, int] = (0, 0)  # (database, Redis), for the log and tests

    def run(self, now: datetime, *, full: bool = False) -> int:
        """Check (and repair) the timers of armed attempts; returns how many were repaired."""
        later = clock.from_ms(clock.to_ms(now) + self.MARGIN_MS)  # whole ms: both counts cut at one instant
        since_ms = clock.to_ms(deadlines.due_cutoff(later))
        # The database first: a start arms its timer before it commits, so one starting between
        # the two counts adds to Redis's; only an attempt ending between them makes a false alarm.
        in_db = sum(attempts.count() for attempts, _ in Attempt.objects.armed_parts(later))
        in_redis = timers.count_indexed(since_ms=since_ms)
        self.last_counts = (in_db, in_redis)
        parts = len(Attempt.objects.armed_parts(now))
        if full or in_redis < in_db:
            repaired = 0
            for part in range(parts):
                place = None
                while True:
                    chunk = self._chunk(now, part, place)
                    repaired += self._repair(chunk)
                    if len(chunk) < self.chunk:
                        break
                    place = chunk[-1]
            return repaired
        part, place = self.place
        chunk = self._chunk(now, part, place)
        # A short chunk ends the part: the next run starts the next one (after the last, the first).
        self.place = (part, chunk[-1]) if len(chunk) == self.chunk else ((part + 1) % parts, None)
        return self._repair(chunk)

    def _chunk(self, now: datetime, part: int, after: tuple[datetime, int] | None) -> list[tuple[datetime, int]]:
        """The next `chunk` attempts of one part of `armed_parts` after `after`, by (instant, id)."""
        attempts, instant = Attempt.objects.armed_parts(now)[part]
        if after is not None:
            at, pk = after
            attempts = attempts.filter(Q(**{f"{instant}__gt": at}) | Q(**{instant: at, "pk__gt": pk}))
        return list(attempts.order_by(instant, "pk").values_list(instant, "pk")[: self.chunk])

    @staticmethod
    def _repair(chunk: list[tuple[datetime, int]]) -> int:
        return timers.restore_timers((pk, clock.to_ms(instant)) for instant, pk in chunk)


def reconcile(
    *, batch_size: int = 1000, set_aside: SetAside | None = None, audit: TimerAudit | None = None, full: bool = True
) -> tuple[int, int]:
    """Time out every ongoing attempt past its deadline and re-arm what Redis lost.

    Returns (timed out, timers repaired). `set_aside`: the caller's memory of failing attempts;
    `audit`: the caller's rolling check of timers; `full`: check every live attempt's timer, not
    only when the counts disagree.
    """
    set_aside = set_aside if set_aside is not None else SetAside()
    now = clock.now()
    overdue = list(
        Attempt.objects.due(now)
        .exclude(pk__in=set_aside.resting())
        .order_by("deadline_at")
        .values_list("pk", flat=True)[: batch_size * 10]
    )
    flipped = 0
    for start in range(0, len(overdue), batch_size):
        batch = overdue[start : start + batch_size]
        ended, _ = expire_batch(attempt_ids=batch, path=ExpiryPath.RECONCILER, set_aside=set_aside)
        flipped += len(ended)
    # A paused attempt has no timer: its clock stands still until it resumes (`Attempt.objects.armed`).
    return flipped, (audit or TimerAudit()).run(now, full=full)


def rearm(*, attempt_ids: Iterable[int]) -> int:
    """Put claimed-but-not-due attempts back in the deadline index (e.g. extended meanwhile, or overdue)."""
    armed = Attempt.objects.with_ids(attempt_ids).armed(clock.now())
    return timers.restore_timers((pk, clock.to_ms(instant)) for pk, instant in armed)


def ping_database() -> None:
    """`SELECT 1`: raises while the database is down."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
