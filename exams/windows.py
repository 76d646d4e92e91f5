"""An exam's window and a student's place in it: may they start now, with how much time, until which close.

Read when an attempt starts (services.start_attempt); the deadline itself is exams/deadlines.py's.
A student's close override (time_models.CloseOverride) replaces the exam's `closes_at` for them,
and a student who has one is not held to the late-start rule (staff let them in explicitly).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db.models import Q

from . import clock
from .errors import Conflict
from .models import Accommodation, CloseOverride, Exam, LateEnd, LateStart
from .selectors import allotted_for


@dataclass(frozen=True)
class StartTerms:
    """What an attempt starting now gets: its allotted time and its close, and why (the `started` event's detail)."""

    allotted_seconds: int
    accommodation_seconds: int
    close_at: datetime | None
    detail: dict


def accommodation_for(user_id: int, exam_id: int) -> Accommodation | None:
    """The student's accommodation for this exam: the per-exam one, else the all-exams one."""
    found = {
        a.exam_id: a for a in Accommodation.objects.filter(Q(exam_id=exam_id) | Q(exam__isnull=True), user_id=user_id)
    }
    if exam_id in found:
        return found[exam_id]
    return next((a for a in found.values() if a.exam_id is None), None)


def close_override(user_id: int, exam_id: int) -> CloseOverride | None:
    return CloseOverride.objects.filter(user_id=user_id, exam_id=exam_id).first()


def student_close(exam: Exam, override: CloseOverride | None) -> datetime | None:
    """The student's hard close for the exam: their override, else the exam's."""
    return override.close_at if override is not None else exam.closes_at


def late_start_limit(exam: Exam) -> datetime | None:
    """The last instant a start is allowed under the exam's late-start rule (None: no limit)."""
    reference = getattr(exam, "starts_at", None) or exam.opens_at
    if reference is None or exam.late_start == LateStart.ALLOW:
        return None
    minutes = exam.late_start_minutes if exam.late_start == LateStart.UNTIL else 0
    return reference + timedelta(minutes=minutes)


def start_terms(*, user: User, exam: Exam, now: datetime) -> StartTerms:
    """May the student start now? If so, with what allotted time and close (raises Conflict otherwise)."""
    if exam.opens_at and now < exam.opens_at:
        raise Conflict("This exam has not opened yet.", code="exam_not_open")
    override = close_override(user.pk, exam.pk)
    close = student_close(exam, override)
    if close is not None and now >= close:
        raise Conflict("This exam has closed.", code="exam_closed")
    limit = late_start_limit(exam)
    if override is None and limit is not None and now > limit:
        raise Conflict(
            f"Starting after {clock.iso(limit)} is not allowed for this exam (late start).", code="late_start_refused"
        )
    accommodation = accommodation_for(user.pk, exam.pk)
    allotted = allotted_for(exam, accommodation)
    source = "override" if override is not None else "exam"
    if close is not None and exam.late_end == LateEnd.FULL_TIME and now + timedelta(seconds=allotted) > close:
        # A late starter gets the full allotted time: no close bounds this attempt.
        close, source = None, "full_time"
    detail = {
        "duration_seconds": exam.duration_seconds,
        "allotted_seconds": allotted,
        "accommodation": None if accommodation is None else accommodation_detail(accommodation),
        "close_at": clock.iso(close),
        "close_source": source if close is not None or source == "full_time" else "none",
    }
    return StartTerms(allotted, allotted - exam.duration_seconds, close, detail)


def accommodation_detail(accommodation: Accommodation) -> dict:
    """An accommodation as an event's detail records it."""
    return {
        "id": accommodation.pk,
        "exam_id": accommodation.exam_id,
        "multiplier": str(accommodation.multiplier),
        "extra_seconds": accommodation.extra_seconds,
        "reason": accommodation.reason,
    }


def seat_terms(exam: Exam, user_ids: list[int], *, instant: datetime) -> dict[int, StartTerms]:
    """`start_terms` of many students starting together at `instant` (the waiting room), in two queries.

    The window was checked for the exam as a whole; each student's accommodation and close override apply.
    """
    accommodations: dict[int, dict[int | None, Accommodation]] = {}
    for row in Accommodation.objects.filter(Q(exam_id=exam.pk) | Q(exam__isnull=True), user_id__in=user_ids):
        accommodations.setdefault(row.user_id, {})[row.exam_id] = row
    overrides = {o.user_id: o for o in CloseOverride.objects.filter(exam_id=exam.pk, user_id__in=user_ids)}
    terms = {}
    for user_id in user_ids:
        own = accommodations.get(user_id, {})
        accommodation: Accommodation | None = own.get(exam.pk) or own.get(None)
        allotted = allotted_for(exam, accommodation)
        override = overrides.get(user_id)
        close = student_close(exam, override)
        source = "override" if override is not None else "exam"
        if close is not None and exam.late_end == LateEnd.FULL_TIME and instant + timedelta(seconds=allotted) > close:
            close, source = None, "full_time"
        detail = {
            "duration_seconds": exam.duration_seconds,
            "allotted_seconds": allotted,
            "accommodation": None if accommodation is None else accommodation_detail(accommodation),
            "close_at": clock.iso(close),
            "close_source": source if close is not None or source == "full_time" else "none",
        }
        terms[user_id] = StartTerms(allotted, allotted - exam.duration_seconds, close, detail)
    return terms
