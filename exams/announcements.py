"""Announcements (issue 12 §2): a proctor's message to the whole exam or one student, pushed at
once, shown until the student acknowledges it, replayed on every connect (exams/room.py)."""

import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q

from . import clock, notifications
from .contract import codes
from .contract.limits import ANNOUNCEMENTS_PER_WINDOW, MAX_ANNOUNCEMENT_LENGTH
from .errors import NotFound, ServiceError
from .models import Attempt, CheckIn, Enrollment, Exam
from .room_models import Announcement, AnnouncementAck
from .room_rules import clean_text, require_staff, within_rate
from .selectors import get_attempt, get_exam, get_own_attempt

logger = logging.getLogger(__name__)


def _recipient(*, exam_id: int, attempt_id: int | None, user_id: int | None) -> User | None:
    """The one student an announcement is for (named by their attempt, or before they have one by their
    user id: enrolled, or in the waiting room), None for everyone."""
    if attempt_id is not None and user_id is not None:
        raise ServiceError("Name the student by attempt_id or by user_id, not both.", code=codes.INVALID)
    if user_id is not None:
        user = get_user_model().objects.filter(pk=user_id).first()
        known = (
            Enrollment.objects.filter(exam_id=exam_id, user_id=user_id).exists()
            or CheckIn.objects.filter(exam_id=exam_id, user_id=user_id).exists()
            or Attempt.objects.filter(exam_id=exam_id, user_id=user_id).exists()
        )
        if user is None or not known:
            raise NotFound(f"User {user_id} is not a student of exam {exam_id}.")
        return user
    if attempt_id is None:
        return None
    attempt = get_attempt(attempt_id)
    if attempt.exam_id != exam_id:
        raise ServiceError(f"Attempt {attempt_id} is not part of exam {exam_id}.", code="attempt_not_in_exam")
    return attempt.user


def send_announcement(
    *, exam_id: int, by: User, message: str, attempt_id: int | None = None, user_id: int | None = None
) -> Announcement:
    """Store a proctor's announcement and push it, on commit, to its students' sockets and the proctors."""
    require_staff(by)
    message = clean_text(message, field="message", limit=MAX_ANNOUNCEMENT_LENGTH)
    get_exam(exam_id)
    recipient = _recipient(exam_id=exam_id, attempt_id=attempt_id, user_id=user_id)
    with transaction.atomic():
        # The exam's row lock orders racing senders, so the rate count is exact.
        Exam.objects.select_for_update().filter(pk=exam_id).values_list("pk", flat=True).first()
        within_rate(
            Announcement.objects.filter(exam_id=exam_id),
            field="sent_at",
            limit=ANNOUNCEMENTS_PER_WINDOW,
            what="announcements to an exam",
        )
        announcement = Announcement.objects.create(
            exam_id=exam_id, recipient=recipient, message=message, sent_at=clock.now(), sent_by=by
        )
        transaction.on_commit(lambda: notifications.announcement_sent(announcement), robust=True)
    logger.info("exam %s: announcement %s by %s", exam_id, announcement.pk, by.get_username())
    return announcement


def acknowledge_announcement(*, user: User, attempt_id: int, announcement_id: int) -> AnnouncementAck:
    """The student of `attempt_id` has seen the announcement; the first acknowledgement stands."""
    attempt = get_own_attempt(user=user, attempt_id=attempt_id)
    return _acknowledge(user=user, exam_id=attempt.exam_id, attempt_id=attempt.pk, announcement_id=announcement_id)


def acknowledge_in_waiting_room(*, user: User, exam_id: int, announcement_id: int) -> AnnouncementAck:
    """A student waiting for the exam's start has seen the announcement (as `acknowledge_announcement`)."""
    return _acknowledge(user=user, exam_id=exam_id, attempt_id=None, announcement_id=announcement_id)


def _acknowledge(*, user: User, exam_id: int, attempt_id: int | None, announcement_id: int) -> AnnouncementAck:
    announcement = (
        Announcement.objects.filter(pk=announcement_id, exam_id=exam_id)
        .filter(Q(recipient__isnull=True) | Q(recipient_id=user.pk))
        .first()
    )
    if announcement is None:
        raise NotFound(f"Announcement {announcement_id} is not one of yours in this exam.")
    existing = AnnouncementAck.objects.filter(announcement_id=announcement_id, user=user).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            ack = AnnouncementAck.objects.create(announcement=announcement, user=user, at=clock.now())
            transaction.on_commit(
                lambda: notifications.announcement_acknowledged(ack, exam_id=exam_id, attempt_id=attempt_id),
                robust=True,
            )
    except IntegrityError:
        # Another of the student's sockets acknowledged it first: that one stands.
        return AnnouncementAck.objects.get(announcement_id=announcement_id, user=user)
    return ack
