"""A proctor's control of attempts' time (issue 11 §3-5): pause and resume one attempt, a selection or
the whole exam; extend or shorten every ongoing attempt of an exam (or a selection) in one action; reopen
an ended attempt.

Each action locks the rows it changes, then changes them with a bounded number of UPDATEs (one per
distinct pause instant, per distinct change in seconds), each a compare-and-set on their state and each
rewriting `deadline_at` through `deadlines.timeline_update` (the one deadline rule). Redis timers move in
one MULTI; the students and proctors hear of it after commit, in one batched publish
(exams/notifications.py). While paused an attempt has no Redis timer and is never due
(models.AttemptQuerySet), so no expiry path can time it out.

Choices (docs/api.md, "Pause and resume"): a student's submit is refused while paused, like an answer
(`attempt_paused`); a proctor's force submit ends the pause first; an attempt started while the whole exam
is paused (or racing its pause) comes out paused from its start (exams/start_pause.py), and resuming the
exam resumes the attempts paused since the exam was (an attempt paused on its own before stays paused).
"""

import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import redis
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import DurationField, F, Value
from django.db.models.functions import Greatest

from . import clock, close_choice, deadlines, notifications, timers
from .close_choice import KEEP, MOVE
from .contract.limits import MIN_TIME_LEFT_SECONDS
from .errors import Conflict, Forbidden, NotFound, ServiceError, Unavailable
from .insert_select import insert_like
from .models import (
    Attempt,
    AttemptEvent,
    AttemptQuerySet,
    AttemptStatus,
    EventKind,
    Exam,
    ExamEvent,
    ExamEventKind,
    IncidentCategory,
)
from .redis_clients import get_optional_redis
from .selectors import attempts_in_order, get_attempt, get_exam, pause_reasons

logger = logging.getLogger(__name__)

MINUTES, PERCENT, SECONDS = "minutes", "percent", "seconds"


@dataclass(frozen=True)
class Outcome:
    """What an action changed: the exam as it stands after it, and the attempts it changed."""

    exam: Exam
    attempt_ids: list[int]


def _on_commit(func) -> None:
    transaction.on_commit(func, robust=True)


def _best_effort(action: str, func, *args) -> None:
    """Redis work the reconciler repairs within its period if it fails here (a resume's timers)."""
    try:
        func(*args, client=get_optional_redis())
    except redis.RedisError:
        logger.warning("Redis unavailable while %s; the reconciler will repair it", action, exc_info=True)


def _required(action: str, func, *args) -> None:
    """Redis work that must happen with the change (a shortened timer would fire late): else it rolls back."""
    try:
        func(*args)
    except redis.RedisError as exc:
        raise Unavailable(f"The timer service (Redis) is unavailable; {action}.") from exc


def _check_staff(by: User) -> None:
    if not by.is_staff:
        raise Forbidden("Only proctors (staff users) can do this.", code="not_staff")


def _selection(exam_id: int, attempt_ids: list[int] | None) -> AttemptQuerySet:
    """The exam's attempts, or those of `attempt_ids` (each must be the exam's)."""
    attempts = Attempt.objects.filter(exam_id=exam_id)
    if attempt_ids is None:
        return attempts
    wanted = set(attempt_ids)
    attempts = attempts.with_ids(wanted)
    strangers = wanted - set(attempts.values_list("pk", flat=True))
    if strangers:
        raise NotFound(f"Attempt(s) {sorted(strangers)[:5]} are not part of exam {exam_id}.", code="not_in_exam")
    return attempts


def _duration(delta: timedelta) -> Value:
    return Value(delta, output_field=DurationField())


# --- Pause and resume ------------------------------------------------------------------------


def pause(*, by: User, exam_id: int, category: str, note: str = "", attempt_ids: list[int] | None = None) -> Outcome:
    """Pause the running attempts of `attempt_ids`, or the whole exam (`attempt_ids` None: its running
    attempts, and no start until it resumes). Each paused attempt gets a `paused` event (category, note, who)."""
    _check_staff(by)
    get_exam(exam_id)
    if category not in IncidentCategory.values:
        raise ServiceError(f"category must be one of {IncidentCategory.values}.", code="invalid")
    whole = attempt_ids is None
    detail = {"category": category, "note": note, "by": by.get_username(), "scope": "exam" if whole else "selection"}
    with transaction.atomic():
        if whole:
            # The row's exclusive lock before the clock: a start in flight holds it shared, so it commits
            # first and is among the running attempts below; a later one reads this pause
            # (exams/start_pause.py).
            list(Exam.objects.select_for_update().filter(pk=exam_id).values_list("pk"))
        now = clock.now()
        if whole:
            if not Exam.objects.filter(pk=exam_id, paused_at__isnull=True).update(paused_at=now):
                raise Conflict("The exam is paused already.", code="exam_paused")
            ExamEvent.objects.create(exam_id=exam_id, kind=ExamEventKind.EXAM_PAUSED, at=now, by=by, detail=detail)
        # Live and running: a due attempt is the expiry engine's, a paused one is paused already.
        running = _selection(exam_id, attempt_ids).live(now).running()
        ids = list(running.select_for_update().values_list("pk", flat=True))
        if not ids and not whole:
            raise Conflict("None of these attempts is running.", code="nothing_to_change")
        if ids:
            Attempt.objects.with_ids(ids).running().update(paused_at=now)
            AttemptEvent.objects.bulk_create(
                AttemptEvent(attempt_id=i, kind=EventKind.PAUSED, at=now, detail=detail) for i in ids
            )
            # No timer while paused (a leftover one is harmless: a paused attempt is never due).
            _on_commit(lambda: _best_effort("pausing timers", timers.delete_timers, ids))
            _on_commit(lambda: notifications.attempts_paused(ids, category, note))
        exam = get_exam(exam_id)
        if whole:
            _on_commit(lambda: notifications.exam_pause_changed(exam, category, note))
    logger.info("exam %s: %d attempts paused by %s (%s)", exam_id, len(ids), by.get_username(), category)
    return Outcome(exam, ids)


def resume(*, by: User, exam_id: int, attempt_ids: list[int] | None = None, close: str = MOVE) -> Outcome:
    """Resume the paused attempts of `attempt_ids`, or the whole exam: each deadline moves by its paused
    time exactly; the exam's close and its attempts' closes move by the exam's paused time unless `close`
    is `keep`."""
    _check_staff(by)
    get_exam(exam_id)
    close_choice.check(close)
    moves_closes = close != KEEP
    with transaction.atomic():
        now = clock.now()
        if attempt_ids is None:
            exam = Exam.objects.select_for_update().get(pk=exam_id)
            if exam.paused_at is None:
                raise Conflict("The exam is not paused.", code="not_paused")
            paused_for = now - exam.paused_at
            Exam.objects.filter(pk=exam_id).update(
                paused_at=None, **({"closes_at": F("closes_at") + _duration(paused_for)} if moves_closes else {})
            )
            ExamEvent.objects.create(
                exam_id=exam_id,
                kind=ExamEventKind.EXAM_RESUMED,
                at=now,
                by=by,
                detail={
                    "paused_ms": paused_for // timedelta(milliseconds=1),
                    # Exact, for the audit's replay (exams/audit.py): closes move by the microsecond.
                    "paused_us": paused_for // timedelta(microseconds=1),
                    "close": close,
                },
            )
            if moves_closes:
                # Exam-level timing stood still too: every unfinished attempt's hard close moves.
                Attempt.objects.filter(exam_id=exam_id, close_at__isnull=False).unfinished().update(
                    **deadlines.timeline_update(close_at=F("close_at") + _duration(paused_for))
                )
            target = Attempt.objects.filter(exam_id=exam_id, paused_at__gte=exam.paused_at).paused()
        else:
            target = _selection(exam_id, attempt_ids).paused()
        ids = end_pauses(target, now=now, by=by)
        if not ids and attempt_ids is not None:
            raise Conflict("None of these attempts is paused.", code="not_paused")
        exam = get_exam(exam_id)
        if attempt_ids is None:
            _on_commit(lambda: notifications.exam_pause_changed(exam, None, ""))
    logger.info("exam %s: %d attempts resumed by %s", exam_id, len(ids), by.get_username())
    return Outcome(exam, ids)


def end_pauses(target: AttemptQuerySet, *, now: datetime, by: User) -> list[int]:
    """End the pauses of the paused attempts in `target` (inside the caller's transaction): paused_total
    grows by each one's paused time and its deadline is rewritten, one UPDATE per distinct pause instant
    (one per pause action); each gets an `unpaused` event with the pause's reason and length (incident
    time). Returns their ids."""
    rows: list[tuple[int, datetime]] = [
        (pk, paused_at) for pk, paused_at in target.select_for_update().values_list("pk", "paused_at") if paused_at
    ]
    by_instant: dict[datetime, list[int]] = defaultdict(list)
    for pk, paused_at in rows:
        by_instant[paused_at].append(pk)
    for paused_at, group in by_instant.items():
        Attempt.objects.with_ids(group).filter(paused_at=paused_at).paused().update(
            **deadlines.timeline_update(paused_total=F("paused_total") + _duration(now - paused_at), paused_at=None)
        )
    ids = [pk for pk, _ in rows]
    if not ids:
        return []
    reasons = pause_reasons(ids)
    paused_ms = {pk: (now - paused_at) // timedelta(milliseconds=1) for pk, paused_at in rows}
    AttemptEvent.objects.bulk_create(
        AttemptEvent(
            attempt_id=pk,
            kind=EventKind.UNPAUSED,
            at=now,
            detail={**reasons.get(pk, {}), "paused_ms": paused_ms[pk], "ended_by": by.get_username()},
        )
        for pk in ids
    )
    resumed = list(Attempt.objects.with_ids(ids).running().values_list("pk", "deadline_at"))
    pairs = [(pk, clock.to_ms(deadline)) for pk, deadline in resumed]
    _on_commit(lambda: _best_effort("re-arming resumed timers", timers.set_timers, pairs))
    _on_commit(lambda: notifications.attempts_resumed(ids, paused_ms))
    return ids


# --- Exam-wide (or selection) time change -------------------------------------------------------


def share_seconds(allotted_seconds: int, percent: int) -> int:
    """`percent` of an allotted time, in whole seconds rounded half away from zero."""
    exact = Decimal(allotted_seconds) * Decimal(abs(percent)) / 100
    seconds = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return seconds if percent >= 0 else -seconds


def change_time(
    *,
    by: User,
    exam_id: int,
    unit: str,
    amount: int,
    attempt_ids: list[int] | None = None,
    reason: str = "",
    close: str | None = None,
) -> Outcome:
    """Extend (or shorten) every ongoing attempt of the exam, or those of `attempt_ids`, by `amount` minutes
    (`unit` "minutes"), by `amount` percent of each one's allotted time (`unit` "percent": so each
    accommodation keeps its ratio), or by `amount` seconds (`unit` "seconds": an incident's time).

    Refused as a whole (nothing changes) when a shortened attempt would keep less than a minute
    (`too_short`), or when a new end runs past an attempt's hard close and `close` (`move` / `keep`)
    does not say what to do (`past_close`). One UPDATE per distinct change in seconds (one in minutes).
    """
    _check_staff(by)
    get_exam(exam_id)
    close_choice.check(close)
    if unit not in (MINUTES, PERCENT, SECONDS):
        raise ServiceError(f"unit must be {MINUTES!r}, {PERCENT!r} or {SECONDS!r}.", code="invalid")
    if not amount:
        raise Conflict("A change of 0 changes nothing.", code="nothing_to_change")
    with transaction.atomic():
        now = clock.now()
        rows = list(
            _selection(exam_id, attempt_ids)
            .live(now)
            .select_for_update()
            .values_list(
                "pk", "started_at", "allotted_seconds", "extra_seconds", "paused_total", "paused_at", "close_at"
            )
        )
        if not rows:
            raise Conflict("No selected attempt is ongoing.", code="nothing_to_change")
        change: dict[int, int] = {}
        past: list[timedelta] = []
        short = 0
        for pk, started_at, allotted, extra, paused_total, paused_at, close_at in rows:
            if unit == PERCENT:
                seconds = share_seconds(allotted, amount)
            else:
                seconds = amount * 60 if unit == MINUTES else amount
            change[pk] = seconds
            nominal = deadlines.attempt_deadline(started_at, allotted, extra + seconds, paused_total, None)
            if close_at is not None and nominal > close_at and seconds > 0:
                past.append(nominal - close_at)
            end = nominal if close == MOVE or close_at is None else min(nominal, close_at)
            if seconds < 0 and end - (paused_at or now) < timedelta(seconds=MIN_TIME_LEFT_SECONDS):
                short += 1
        if short:
            raise Conflict(
                f"Shortening would leave {short} attempt(s) less than {MIN_TIME_LEFT_SECONDS} s; nothing changed.",
                code="too_short",
            )
        if past and close is None:
            raise close_choice.refusal(max(past), attempts=len(past))
        groups: dict[int, list[int]] = defaultdict(list)
        for pk, seconds in change.items():
            groups[seconds].append(pk)
        for seconds, group in groups.items():
            grant = F("extra_seconds") + seconds
            updates: dict = {}
            if close == MOVE and seconds > 0:
                # Before extra_seconds: every expression reads the row's old values (timeline_update).
                new_end = deadlines.deadline_expression(extra_seconds=grant, clear_close=True)
                updates["close_at"] = Greatest(F("close_at"), new_end)
            updates["extra_seconds"] = grant
            Attempt.objects.with_ids(group).ongoing().update(**deadlines.timeline_update(**updates))
        ids = list(change)
        mode = {unit: amount}
        who = {"by": by.get_username(), "reason": reason, **({"close": close} if close else {})}
        for seconds, group in groups.items():
            # One INSERT ... SELECT per distinct change: no Python per attempt (5,000 at once).
            insert_like(
                AttemptEvent(kind=EventKind.TIME_CHANGED, at=now, detail={"seconds": seconds, **mode, **who}),
                Attempt.objects.with_ids(group),
                attempt=F("pk"),
            )
        ExamEvent.objects.create(
            exam_id=exam_id,
            kind=ExamEventKind.TIME_CHANGED,
            at=now,
            by=by,
            detail={**mode, **who, "attempts": len(ids), "selection": attempt_ids is not None},
        )
        # Read once, as the UPDATEs left them: the timers move from it and, once committed, the
        # students' frames are built from it (5,000 at once: no second read on their path).
        changed = attempts_in_order(ids)
        running = [(a.pk, clock.to_ms(a.deadline_at)) for a in changed if a.is_running]
        _required("the time was not changed", timers.set_timers, running)
        _on_commit(lambda: notifications.times_changed(changed, change))
        exam = get_exam(exam_id)
    logger.info("exam %s: time of %d attempts changed (%s) by %s", exam_id, len(ids), mode, by.get_username())
    return Outcome(exam, ids)


# --- Reopen --------------------------------------------------------------------------------------

REOPENABLE = (AttemptStatus.COMPLETED, AttemptStatus.TIMEOUT, AttemptStatus.OVERDUE)


def reopen(
    *, by: User, attempt_id: int, minutes: int, reason: str, close: str | None = None, exam_id: int | None = None
) -> tuple[Attempt, int]:
    """Reopen a submitted, timed-out or overdue attempt with `minutes` from now (a student's machine died):
    ongoing again with a new deadline (through the one rule: the net grant needed to reach it), scored
    again at its new end. Returns the attempt and the grant in seconds."""
    _check_staff(by)
    close_choice.check(close)
    attempt = get_attempt(attempt_id)
    if exam_id is not None and attempt.exam_id != exam_id:
        raise ServiceError(f"Attempt {attempt_id} is not part of exam {exam_id}.", code="attempt_not_in_exam")
    with transaction.atomic():
        now = clock.now()
        attempt = Attempt.objects.select_for_update().get(pk=attempt_id)
        if attempt.status not in REOPENABLE:
            raise Conflict("Only an ended (or overdue) attempt can be reopened.", code="not_reopenable")
        nominal = deadlines.attempt_deadline(
            attempt.started_at, attempt.allotted_seconds, attempt.extra_seconds, attempt.paused_total, None
        )
        grant = math.ceil((now + timedelta(minutes=minutes) - nominal) / timedelta(seconds=1))
        new_end = nominal + timedelta(seconds=grant)
        updates: dict = {}
        if attempt.close_at is not None and new_end > attempt.close_at:
            if close is None:
                raise close_choice.refusal(new_end - attempt.close_at, close_at=attempt.close_at)
            if close == MOVE:
                updates["close_at"] = new_end
            elif attempt.close_at - now < timedelta(seconds=MIN_TIME_LEFT_SECONDS):
                raise Conflict("The attempt's hard close has passed: reopen it with close=move.", code="too_short")
        updates["extra_seconds"] = F("extra_seconds") + grant
        reopened = Attempt.objects.filter(pk=attempt_id, status=attempt.status, end_token=attempt.end_token).update(
            **deadlines.timeline_update(**updates),
            status=AttemptStatus.ONGOING,
            ended_at=None,
            score=None,
            max_score=None,
            hand_in_until=None,
            end_token="",
        )
        if not reopened:  # the row lock makes this unreachable short of a bug
            raise Conflict("The attempt changed meanwhile; retry.", code="conflict")
        previous = {"status": attempt.status, "score": attempt.score}
        attempt.refresh_from_db()
        AttemptEvent.objects.create(
            attempt=attempt,
            kind=EventKind.REOPENED,
            at=now,
            detail={
                "by": by.get_username(),
                "reason": reason,
                "minutes": minutes,
                "seconds": grant,
                "previous": previous,
                **({"close": close} if close else {}),
            },
        )
        _required("the attempt was not reopened", timers.set_timers, [(attempt.pk, clock.to_ms(attempt.deadline_at))])
        _on_commit(lambda: notifications.attempt_reopened(attempt))
    logger.info("attempt %s reopened by %s for %d min: %s", attempt_id, by.get_username(), minutes, reason)
    return attempt, grant
