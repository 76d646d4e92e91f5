"""Staff set a student's time rules: accommodations (issue 11 §1) and close overrides (§2).

A rule changed while the student is sitting the exam reaches the running attempt as one
compare-and-set UPDATE of its timeline (exams/deadlines.py), logged as an AttemptEvent with who
and why, its Redis timer moved and the student's screens told at once (`time_changed`). An
accommodation reaches a running attempt only when the proctor says so (`apply_to_running`);
a close override always does (it is the student's close).
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import redis
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from . import clock, deadlines, notifications, timers, windows
from .contract.fields import has_visible
from .contract.limits import (
    MAX_ACCOMMODATION_EXTRA_SECONDS,
    MAX_IMPORT_ROWS,
    MAX_MULTIPLIER,
    MAX_REASON_LENGTH,
    MIN_MULTIPLIER,
)
from .csv_text import csv_rows
from .errors import Conflict, Forbidden, NotFound, ServiceError, Unavailable
from .models import Accommodation, Attempt, AttemptEvent, CloseOverride, EventKind
from .selectors import allotted_for, get_exam

logger = logging.getLogger(__name__)

# A change of the rules may not leave a running attempt less than this before its new end.
MIN_LEFT = timedelta(minutes=1)


@dataclass(frozen=True)
class RuleChange:
    """What a change did: the rule as it now stands (None: deleted), the running attempts it changed,
    and how many running attempts it could have changed but did not (no `apply_to_running`)."""

    rule: Accommodation | CloseOverride | None
    applied: list[Attempt]
    not_applied: int = 0


def _staff(by: User) -> None:
    if not by.is_staff:
        raise Forbidden("Only proctors (staff users) can do this.", code="not_staff")


def _student(username: str) -> User:
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise NotFound(f"No user named {username!r}.", code="unknown_user")
    return user


def two_decimals(multiplier: Decimal) -> Decimal:
    """A multiplier as stored: two decimals, rounded half up."""
    return multiplier.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def check_accommodation(multiplier: Decimal, extra_seconds: int, reason: str) -> None:
    """The bounds of an accommodation (contract/limits.py), as a ServiceError(`invalid`)."""
    if not multiplier.is_finite() or not Decimal(MIN_MULTIPLIER) <= multiplier <= Decimal(MAX_MULTIPLIER):
        raise ServiceError(f"multiplier must be from {MIN_MULTIPLIER} to {MAX_MULTIPLIER}.", code="invalid")
    if not 0 <= extra_seconds <= MAX_ACCOMMODATION_EXTRA_SECONDS:
        raise ServiceError(
            f"extra time must be from 0 to {MAX_ACCOMMODATION_EXTRA_SECONDS // 60} minutes.", code="invalid"
        )
    if not has_visible(reason) or len(reason) > MAX_REASON_LENGTH:
        raise ServiceError(f"A reason of 1 to {MAX_REASON_LENGTH} characters is required.", code="invalid")


# --- Accommodations -----------------------------------------------------------------------


def set_accommodation(
    *,
    by: User,
    username: str,
    exam_id: int | None,
    multiplier: Decimal,
    extra_seconds: int,
    reason: str,
    apply_to_running: bool = False,
) -> RuleChange:
    """Create or replace the student's accommodation for one exam (or all, `exam_id` None)."""
    _staff(by)
    multiplier = two_decimals(multiplier)
    check_accommodation(multiplier, extra_seconds, reason)
    student = _student(username)
    if exam_id is not None:
        get_exam(exam_id)
    with transaction.atomic():
        values = {"multiplier": multiplier, "extra_seconds": extra_seconds, "reason": reason, "created_by": by}
        # select_for_update + create: one accommodation per (student, exam), also for "all exams" (NULL),
        # which a unique index does not guard on MySQL.
        found = Accommodation.objects.select_for_update().filter(user=student, exam=exam_id).first()
        if found is None:
            try:
                with transaction.atomic():
                    found = Accommodation.objects.create(user=student, exam_id=exam_id, **values)
            except IntegrityError:
                raise Conflict("Another change of this accommodation won; retry.", code="conflict") from None
        else:
            Accommodation.objects.filter(pk=found.pk).update(**values)
            found.refresh_from_db()
        return _reapply(found.user_id, exam_id, by=by, reason=reason, rule=found, apply=apply_to_running)


def update_accommodation(
    *,
    by: User,
    accommodation_id: int,
    multiplier: Decimal | None = None,
    extra_seconds: int | None = None,
    reason: str | None = None,
    apply_to_running: bool = False,
) -> RuleChange:
    """Change some fields of an accommodation."""
    _staff(by)
    with transaction.atomic():
        found = Accommodation.objects.select_for_update().filter(pk=accommodation_id).first()
        if found is None:
            raise NotFound(f"Accommodation {accommodation_id} does not exist.")
        found.multiplier = two_decimals(multiplier) if multiplier is not None else found.multiplier
        found.extra_seconds = extra_seconds if extra_seconds is not None else found.extra_seconds
        found.reason = reason if reason is not None else found.reason
        check_accommodation(found.multiplier, found.extra_seconds, found.reason)
        found.created_by = by
        found.save()
        return _reapply(found.user_id, found.exam_id, by=by, reason=found.reason, rule=found, apply=apply_to_running)


def delete_accommodation(*, by: User, accommodation_id: int, apply_to_running: bool = False) -> RuleChange:
    """Remove an accommodation; with `apply_to_running`, running attempts go back to the time without it."""
    _staff(by)
    with transaction.atomic():
        found = Accommodation.objects.select_for_update().filter(pk=accommodation_id).first()
        if found is None:
            raise NotFound(f"Accommodation {accommodation_id} does not exist.")
        user_id, exam_id = found.user_id, found.exam_id
        found.delete()
        return _reapply(user_id, exam_id, by=by, reason="accommodation removed", rule=None, apply=apply_to_running)


def _reapply(
    user_id: int, exam_id: int | None, *, by: User, reason: str, rule: Accommodation | None, apply: bool
) -> RuleChange:
    """Give the student's running attempts (of `exam_id`, or all) the allotted time the rules now say, if `apply`."""
    now = clock.now()
    attempts = Attempt.objects.select_for_update().select_related("exam").filter(user_id=user_id).ongoing()
    if exam_id is not None:
        attempts = attempts.filter(exam_id=exam_id)
    changes = []
    for attempt in attempts.order_by("id"):
        allotted = allotted_for(attempt.exam, windows.accommodation_for(user_id, attempt.exam_id))
        if allotted != attempt.allotted_seconds:
            changes.append((attempt, allotted))
    if not apply:
        return RuleChange(rule, [], len(changes))
    applied = []
    for attempt, allotted in changes:
        new_end = deadlines.attempt_deadline(
            attempt.started_at, allotted, attempt.extra_seconds, attempt.paused_total, attempt.close_at
        )
        if allotted < attempt.allotted_seconds and attempt.paused_at is None and new_end < now + MIN_LEFT:
            raise Conflict(
                f"This would leave attempt {attempt.pk} less than a minute (its end would be {clock.iso(new_end)}).",
                code="too_short",
            )
        won = (
            Attempt.objects.filter(pk=attempt.pk, allotted_seconds=attempt.allotted_seconds)
            .live(now)
            .update(
                **deadlines.timeline_update(allotted_seconds=allotted),
                accommodation_seconds=allotted - attempt.exam.duration_seconds,
            )
        )
        if not won:
            continue  # it ended meanwhile
        detail = {
            "by": by.get_username(),
            "reason": reason,
            "accommodation": None if rule is None else windows.accommodation_detail(rule),
            "allotted_from": attempt.allotted_seconds,
            "allotted_to": allotted,
        }
        AttemptEvent.objects.create(attempt=attempt, kind=EventKind.ACCOMMODATION_APPLIED, at=now, detail=detail)
        applied.append(_after_time_change(attempt.pk, change="accommodation", before=attempt.deadline_at))
    return RuleChange(rule, applied)


def _after_time_change(attempt_id: int, *, change: str, before: datetime) -> Attempt:
    """Move the Redis timer of a changed attempt and tell its student and proctors once committed
    (`added_seconds`: how far its end moved from `before`)."""
    attempt = Attempt.objects.get(pk=attempt_id)
    added = round((attempt.deadline_at - before).total_seconds())
    try:
        if attempt.paused_at is None:
            timers.extend_timer(attempt.pk, deadline_ms=clock.to_ms(attempt.deadline_at))
    except redis.RedisError as exc:
        raise Unavailable("The timer service (Redis) is unavailable; the time was not changed.") from exc
    transaction.on_commit(lambda: notifications.time_changed(attempt, change=change, added_seconds=added), robust=True)
    return attempt


# --- CSV import ----------------------------------------------------------------------------


@dataclass
class ImportReport:
    """An import's outcome: rows saved, and each refused row's line number and why."""

    created: int = 0
    updated: int = 0
    applied: int = 0
    refused: list[dict] = field(default_factory=list)


CSV_COLUMNS = ["username", "multiplier", "extra_minutes", "reason"]


def import_accommodations(
    *, by: User, text: str, exam_id: int | None = None, apply_to_running: bool = False
) -> ImportReport:
    """Rows of `username,multiplier,extra_minutes,reason` (a header row optional): each valid row sets that
    student's accommodation (for `exam_id`, or all exams); each invalid one is reported, and saves nothing."""
    _staff(by)
    if exam_id is not None:
        get_exam(exam_id)
    rows = csv_rows(text)
    if rows and [c.strip().lower() for c in rows[0]][:1] == ["username"]:
        rows = [[], *rows[1:]]  # keep line numbers: line 1 is the header
    if len(rows) > MAX_IMPORT_ROWS + 1:
        raise ServiceError(f"At most {MAX_IMPORT_ROWS} rows can be imported at once.", code="invalid")
    report = ImportReport()
    seen: set[str] = set()
    for line, row in enumerate(rows, 1):
        if not any(cell.strip() for cell in row):
            continue
        username = row[0].strip() if row else ""
        try:
            multiplier, extra_seconds, reason = _parse_row(row)
            if username in seen:
                raise ServiceError(f"{username} appears more than once in the file.", code="invalid")
            seen.add(username)
            existed = Accommodation.objects.filter(user__username=username, exam=exam_id).exists()
            change = set_accommodation(
                by=by,
                username=username,
                exam_id=exam_id,
                multiplier=multiplier,
                extra_seconds=extra_seconds,
                reason=reason,
                apply_to_running=apply_to_running,
            )
        except ServiceError as exc:
            report.refused.append({"line": line, "username": username, "message": exc.message})
            continue
        report.updated += existed
        report.created += not existed
        report.applied += len(change.applied)
    return report


def _parse_row(row: list[str]) -> tuple[Decimal, int, str]:
    if len(row) != len(CSV_COLUMNS):
        raise ServiceError(f"Expected {len(CSV_COLUMNS)} columns ({', '.join(CSV_COLUMNS)}), got {len(row)}.")
    _, multiplier_text, minutes_text, reason = (cell.strip() for cell in row)
    try:
        multiplier = Decimal(multiplier_text or "1")
    except InvalidOperation:
        raise ServiceError(f"multiplier {multiplier_text!r} is not a number.") from None
    if not multiplier.is_finite():
        raise ServiceError(f"multiplier {multiplier_text!r} is not a number.")
    if not minutes_text.isdigit() and minutes_text:
        raise ServiceError(f"extra_minutes {minutes_text!r} is not a whole number of minutes.")
    extra_seconds = int(minutes_text or 0) * 60
    check_accommodation(multiplier, extra_seconds, reason)
    return multiplier, extra_seconds, reason


# --- Close overrides -----------------------------------------------------------------------


def set_close_override(*, by: User, username: str, exam_id: int, close_at: datetime, reason: str) -> RuleChange:
    """Give the student their own close for the exam; a running attempt's end moves with it at once."""
    _staff(by)
    if not has_visible(reason):
        raise ServiceError("A reason is required.", code="invalid")
    student = _student(username)
    get_exam(exam_id)
    with transaction.atomic():
        found = CloseOverride.objects.select_for_update().filter(user=student, exam_id=exam_id).first()
        if found is None:
            try:
                with transaction.atomic():
                    found = CloseOverride.objects.create(
                        user=student, exam_id=exam_id, close_at=close_at, reason=reason, created_by=by
                    )
            except IntegrityError:
                raise Conflict("Another change of this close override won; retry.", code="conflict") from None
        else:
            CloseOverride.objects.filter(pk=found.pk).update(close_at=close_at, reason=reason, created_by=by)
            found.refresh_from_db()
        return RuleChange(found, _move_close(student.pk, exam_id, close_at, by=by, reason=reason, via="override"))


def delete_close_override(*, by: User, override_id: int) -> RuleChange:
    """Remove a close override: a running attempt's close goes back to the exam's."""
    _staff(by)
    with transaction.atomic():
        found = CloseOverride.objects.select_for_update().select_related("exam").filter(pk=override_id).first()
        if found is None:
            raise NotFound(f"Close override {override_id} does not exist.")
        user_id, exam = found.user_id, found.exam
        found.delete()
        moved = _move_close(user_id, exam.pk, exam.closes_at, by=by, reason="close override removed", via="override")
        return RuleChange(None, moved)


def _move_close(
    user_id: int, exam_id: int, close_at: datetime | None, *, by: User, reason: str, via: str
) -> list[Attempt]:
    now = clock.now()
    moved = []
    for attempt in Attempt.objects.select_for_update().filter(user_id=user_id, exam_id=exam_id).ongoing():
        if attempt.close_at == close_at:
            continue
        won = (
            Attempt.objects.filter(pk=attempt.pk, close_at=attempt.close_at)
            .ongoing()
            .update(**deadlines.timeline_update(close_at=close_at))
        )
        if not won:
            continue
        detail = {
            "by": by.get_username(),
            "reason": reason,
            "from": clock.iso(attempt.close_at),
            "to": clock.iso(close_at),
            "via": via,
        }
        AttemptEvent.objects.create(attempt=attempt, kind=EventKind.CLOSE_MOVED, at=now, detail=detail)
        moved.append(_after_time_change(attempt.pk, change="close", before=attempt.deadline_at))
    return moved
