"""Reads of the exam room (issue 12 §2, §3): the announcements, questions and incidents each side
is told on connect, on resync and over REST. Plain models and values; builders make the shapes.

A student's room costs two queries (the announcements with the student's acknowledgements in
one, the question thread in the other); a resync of many sockets reads all their rooms in three.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, Q, Subquery

from .models import Attempt
from .room_models import Announcement, AnnouncementAck, Incident, StudentQuestion


@dataclass(frozen=True)
class SeenAnnouncement:
    """An announcement as one student sees it: when they acknowledged it (None: not yet)."""

    announcement: Announcement
    acknowledged_at: datetime | None


@dataclass(frozen=True)
class StudentRoom:
    attempt_id: int
    announcements: list[SeenAnnouncement]
    questions: list[StudentQuestion]

    @property
    def empty(self) -> bool:
        """Nothing to tell (a socket is sent no `room` frame then: announcements and questions are never deleted)."""
        return not (self.announcements or self.questions)


@dataclass(frozen=True)
class AckedBy:
    user_id: int
    student: str
    at: datetime


@dataclass(frozen=True)
class AnnouncementStatus:
    """An announcement as proctors see it: for how many students, and who acknowledged it when."""

    announcement: Announcement
    recipients: int
    acks: list[AckedBy]


@dataclass(frozen=True)
class ProctorRoom:
    exam_id: int
    announcements: list[AnnouncementStatus]
    questions: list[StudentQuestion]
    incidents: list[Incident]

    @property
    def empty(self) -> bool:
        return not (self.announcements or self.questions or self.incidents)


def _for_student(exam_id: int, user_id: int) -> Q:
    return Q(exam_id=exam_id) & (Q(recipient__isnull=True) | Q(recipient_id=user_id))


def student_announcements(*, exam_id: int, user_id: int) -> list[SeenAnnouncement]:
    """The exam's announcements for everyone and for this student, each with their acknowledgement (one query)."""
    acked = AnnouncementAck.objects.filter(announcement=OuterRef("pk"), user_id=user_id).values("at")[:1]
    rows = (
        Announcement.objects.filter(_for_student(exam_id, user_id))
        .select_related("sent_by")
        .annotate(acked_at=Subquery(acked))
        .order_by("id")
    )
    return [SeenAnnouncement(a, a.acked_at) for a in rows]


def student_room(attempt: Attempt) -> StudentRoom:
    """What a student's socket is told on connect: announcements and the attempt's question thread."""
    return StudentRoom(
        attempt.pk,
        student_announcements(exam_id=attempt.exam_id, user_id=attempt.user_id),
        list(StudentQuestion.objects.filter(attempt_id=attempt.pk).order_by("id")),
    )


def student_rooms(attempts: Iterable[Attempt]) -> dict[int, StudentRoom]:
    """The rooms of many attempts (a process resyncing its sockets) in three queries, by attempt id."""
    attempts = list(attempts)
    if not attempts:
        return {}
    announcements, acks = _announcements_of({a.exam_id for a in attempts}, {a.user_id for a in attempts})
    threads: dict[int, list[StudentQuestion]] = {}
    for question in StudentQuestion.objects.filter(attempt__in=attempts).order_by("id"):
        threads.setdefault(question.attempt_id, []).append(question)
    return {
        a.pk: StudentRoom(
            a.pk,
            [
                SeenAnnouncement(n, acks.get((n.pk, a.user_id)))
                for n in announcements
                if n.exam_id == a.exam_id and n.recipient_id in (None, a.user_id)
            ],
            threads.get(a.pk, []),
        )
        for a in attempts
    }


def waiting_announcements(*, exam_id: int, user_ids: Iterable[int]) -> dict[int, list[SeenAnnouncement]]:
    """The announcements of many students waiting for one exam (a process resyncing its waiting room), in two
    queries, by user id."""
    user_ids = set(user_ids)
    if not user_ids:
        return {}
    announcements, acks = _announcements_of({exam_id}, user_ids)
    return {
        user_id: [
            SeenAnnouncement(n, acks.get((n.pk, user_id))) for n in announcements if n.recipient_id in (None, user_id)
        ]
        for user_id in user_ids
    }


def _announcements_of(exam_ids: set[int], user_ids: set[int]) -> tuple[list[Announcement], dict[tuple, datetime]]:
    """The exams' announcements for everyone or for one of `user_ids`, and those users' acknowledgements
    ((announcement id, user id) -> when): two queries."""
    announcements = list(
        Announcement.objects.filter(exam_id__in=exam_ids)
        .filter(Q(recipient__isnull=True) | Q(recipient_id__in=user_ids))
        .select_related("sent_by")
        .order_by("id")
    )
    acks = {
        (announcement_id, user_id): at
        for announcement_id, user_id, at in AnnouncementAck.objects.filter(
            announcement__in=announcements, user_id__in=user_ids
        ).values_list("announcement_id", "user_id", "at")
    }
    return announcements, acks


def exam_recipients(exam_id: int) -> int:
    """How many students an announcement to the whole exam is for now: those with an attempt at it."""
    return Attempt.objects.filter(exam_id=exam_id).values("user_id").distinct().count()


def announcement_statuses(*, exam_id: int, announcement_ids: list[int] | None = None) -> list[AnnouncementStatus]:
    """The exam's announcements (or those of `announcement_ids`) with their acknowledgements, in three queries."""
    qs = Announcement.objects.filter(exam_id=exam_id).select_related("sent_by", "recipient").order_by("id")
    if announcement_ids is not None:
        qs = qs.filter(pk__in=announcement_ids)
    announcements = list(qs)
    acks: dict[int, list[AckedBy]] = {}
    for ack in AnnouncementAck.objects.filter(announcement__in=announcements).select_related("user").order_by("id"):
        acks.setdefault(ack.announcement_id, []).append(AckedBy(ack.user_id, ack.user.get_username(), ack.at))
    everyone = exam_recipients(exam_id) if any(a.recipient_id is None for a in announcements) else 0
    return [AnnouncementStatus(a, everyone if a.recipient_id is None else 1, acks.get(a.pk, [])) for a in announcements]


def exam_questions(exam_id: int) -> list[StudentQuestion]:
    """Every question the exam's students asked, with their students (one query)."""
    return list(StudentQuestion.objects.filter(attempt__exam_id=exam_id).select_related("attempt__user").order_by("id"))


def exam_incidents(exam_id: int) -> list[Incident]:
    """The exam's incidents, with their attempts' students and recorders (one query)."""
    return list(Incident.objects.filter(exam_id=exam_id).select_related("attempt__user", "recorded_by").order_by("id"))


def proctor_room(exam_id: int) -> ProctorRoom:
    """What a proctor's socket is told on connect: announcements with acknowledgements, questions, incidents."""
    return ProctorRoom(
        exam_id, announcement_statuses(exam_id=exam_id), exam_questions(exam_id), exam_incidents(exam_id)
    )
