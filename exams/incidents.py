"""Incidents (issue 12 §3): what a proctor records against an attempt or the whole exam, with a
category, a note and optionally time granted. The time goes through the extension service for an
attempt, the bulk time change (exams/time_control.py) for the whole exam (the one deadline rule,
pushed to the students); the incident joins each attempt's audit log as an
`incident` AttemptEvent (an exam's as an ExamEvent too)."""

import logging

from django.contrib.auth.models import User
from django.db import transaction

from . import clock, close_choice, notifications, services, time_control
from .contract import codes
from .contract.limits import MAX_EXTEND_SECONDS, MAX_INCIDENT_NOTE_LENGTH
from .errors import Conflict, ServiceError
from .models import Attempt, AttemptEvent, EventKind, ExamEvent, ExamEventKind, IncidentCategory
from .room_models import Incident
from .room_rules import clean_text, require_staff
from .selectors import get_attempt, get_exam

logger = logging.getLogger(__name__)


def record_incident(
    *,
    exam_id: int,
    by: User,
    category: str,
    note: str,
    attempt_id: int | None = None,
    granted_seconds: int = 0,
) -> Incident:
    """Record an incident; time granted extends the attempt (or every attempt of the exam still in
    progress) in the same transaction, so the incident and its time stand or fall together."""
    require_staff(by)
    if category not in IncidentCategory.values:
        raise ServiceError(f"category: one of {', '.join(IncidentCategory.values)}.", code=codes.INVALID)
    note = clean_text(note, field="note", limit=MAX_INCIDENT_NOTE_LENGTH)
    if isinstance(granted_seconds, bool) or not isinstance(granted_seconds, int):
        raise ServiceError("granted_seconds: a whole number of seconds.", code=codes.INVALID)
    if not 0 <= granted_seconds <= MAX_EXTEND_SECONDS:
        raise ServiceError(f"granted_seconds: from 0 to {MAX_EXTEND_SECONDS}.", code=codes.INVALID)
    get_exam(exam_id)
    attempt = None
    if attempt_id is not None:
        attempt = get_attempt(attempt_id)
        if attempt.exam_id != exam_id:
            raise ServiceError(f"Attempt {attempt_id} is not part of exam {exam_id}.", code="attempt_not_in_exam")
    with transaction.atomic():
        now = clock.now()
        incident = Incident.objects.create(
            exam_id=exam_id,
            attempt=attempt,
            category=category,
            note=note,
            granted_seconds=granted_seconds,
            recorded_at=now,
            recorded_by=by,
        )
        detail = {
            "incident_id": incident.pk,
            "category": category,
            "note": note,
            "by": by.get_username(),
            "granted_seconds": granted_seconds,
            "scope": "attempt" if attempt is not None else "exam",
        }
        if attempt is not None:
            affected = [attempt.pk]
        else:
            ExamEvent.objects.create(exam_id=exam_id, kind=ExamEventKind.INCIDENT, at=now, by=by, detail=detail)
            affected = list(Attempt.objects.filter(exam_id=exam_id).live(now).values_list("pk", flat=True))
        # Logged before the time it grants, so an attempt's audit log reads "incident, extended".
        AttemptEvent.objects.bulk_create(
            [AttemptEvent(attempt_id=pk, kind=EventKind.INCIDENT, at=now, detail=detail) for pk in affected]
        )
        if granted_seconds and attempt is not None:
            # The one extension rule: deadline, Redis timer, `extended` pushed on commit. An attempt
            # that has ended refuses (attempt_ended) and the incident is not recorded.
            services.extend_attempt(attempt_id=attempt.pk, seconds=granted_seconds, by=by, exam_id=exam_id)
        elif granted_seconds and affected:
            # The whole exam's: one bulk time change (a bounded number of statements for any number of
            # attempts), with its `time_changed` audit lines. A hard close stands: the time is granted up to it.
            try:
                time_control.change_time(
                    by=by,
                    exam_id=exam_id,
                    unit=time_control.SECONDS,
                    amount=granted_seconds,
                    attempt_ids=affected,
                    reason=f"incident {incident.pk}: {note}",
                    close=close_choice.KEEP,
                )
            except Conflict as exc:
                # Every one of them ended since the list was read: nothing to grant.
                if exc.code != "nothing_to_change":
                    raise
        incident.attempt = attempt
        transaction.on_commit(lambda: notifications.incident_recorded(incident), robust=True)
    logger.info("exam %s: incident %s (%s) by %s", exam_id, incident.pk, category, by.get_username())
    return incident
