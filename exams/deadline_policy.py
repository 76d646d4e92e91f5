"""What happens when an exam's attempts run out of time (issue 11 §5), set by proctors: `auto_submit`
(submitted at once) or `hand_in` (answers locked, the student submits within `hand_in_seconds`, then it
is submitted for them). Read at each deadline (services.expire_attempts), so a change applies to every
attempt whose time has not yet run out; an attempt already overdue keeps its window."""

from django.contrib.auth.models import User
from django.db import transaction

from . import clock
from .contract.limits import MAX_HAND_IN_SECONDS
from .errors import Conflict, Forbidden, ServiceError
from .models import AtDeadline, Exam, ExamEvent, ExamEventKind
from .selectors import get_exam


@transaction.atomic
def set_at_deadline(*, exam_id: int, by: User, at_deadline: str, hand_in_seconds: int | None = None) -> Exam:
    """Set the exam's rule at the deadline. `hand_in` needs a window of 1 to MAX_HAND_IN_SECONDS seconds
    (the model's constraint); `auto_submit` has none (absent or 0): else `hand_in_window`. Logged as an
    ExamEvent."""
    if not by.is_staff:
        raise Forbidden("Only proctors (staff users) can do this.", code="not_staff")
    get_exam(exam_id)
    if at_deadline not in AtDeadline.values:
        raise ServiceError(f"at_deadline must be one of {AtDeadline.values}.", code="invalid")
    seconds = hand_in_seconds or 0
    if not 0 <= seconds <= MAX_HAND_IN_SECONDS:
        raise ServiceError(f"hand_in_seconds must be from 0 to {MAX_HAND_IN_SECONDS}.", code="invalid")
    # Well formed, but the two fields disagree (the model's constraint, and its converse).
    if at_deadline == AtDeadline.HAND_IN and not seconds:
        raise Conflict("hand_in needs a window: send hand_in_seconds of 1 or more.", code="hand_in_window")
    if at_deadline == AtDeadline.AUTO_SUBMIT and seconds:
        raise Conflict("auto_submit has no hand-in window: leave hand_in_seconds out (or 0).", code="hand_in_window")
    Exam.objects.filter(pk=exam_id).update(at_deadline=at_deadline, hand_in_seconds=seconds)
    ExamEvent.objects.create(
        exam_id=exam_id,
        kind=ExamEventKind.AT_DEADLINE_SET,
        at=clock.now(),
        by=by,
        detail={"at_deadline": at_deadline, "hand_in_seconds": seconds},
    )
    return get_exam(exam_id)
