"""Enrollment: which students an exam expects.

An exam with at least one enrollment is open to its enrolled students only (its waiting room,
its start, its listing); an exam without any stays open to every student, as before
enrollments existed. Proctors add and remove students by username (REST, the admin, a CSV
import); the roster says who has not started yet (the dashboard's list).
"""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction

from .contract.limits import MAX_USERNAME_LENGTH
from .csv_text import csv_rows
from .errors import Forbidden, ServiceError
from .models import Attempt, CheckIn, Enrollment, Exam
from .selectors import get_exam

# A roster row's status before any attempt: enrolled and not seen, or in the waiting room.
NOT_STARTED, WAITING = "not_started", "waiting"


@dataclass(frozen=True)
class EnrollmentChange:
    """What an enroll or unenroll request did: `changed` usernames (added or removed), `unchanged`
    ones (already enrolled, or not enrolled), and how many the exam has now."""

    exam_id: int
    changed: list[str]
    unchanged: list[str]
    enrolled: int


@dataclass(frozen=True)
class RosterRow:
    user_id: int
    username: str
    enrolled_at: datetime
    # NOT_STARTED, WAITING, or the status of the student's latest attempt.
    status: str


def _staff(by: User | None) -> None:
    """Proctors only; `by` None is the command line (manage.py enroll_students), trusted like the admin."""
    if by is not None and not by.is_staff:
        raise Forbidden("Only proctors (staff users) can do this.", code="not_staff")


def _users(usernames: list[str]) -> list[User]:
    """The users named, in the order given (duplicates once); ServiceError(`unknown_users`) naming any unknown."""
    wanted = list(dict.fromkeys(usernames))
    if any(len(name) > MAX_USERNAME_LENGTH for name in wanted):
        raise ServiceError(
            f"Usernames are at most {MAX_USERNAME_LENGTH} characters; nothing was changed.",
            code="unknown_users",
            status=404,
        )
    found = {u.get_username(): u for u in get_user_model().objects.filter(username__in=wanted)}
    unknown = [name for name in wanted if name not in found]
    if unknown:
        shown = ", ".join(unknown[:20]) + (f" and {len(unknown) - 20} more" if len(unknown) > 20 else "")
        raise ServiceError(f"Unknown usernames (nothing was changed): {shown}.", code="unknown_users", status=404)
    return [found[name] for name in wanted]


@transaction.atomic
def enroll_students(*, exam_id: int, usernames: list[str], by: User | None) -> EnrollmentChange:
    """Enroll the named students (all or none: an unknown username changes nothing)."""
    _staff(by)
    exam = get_exam(exam_id)
    users = _users(usernames)
    # ignore_conflicts: a racing request enrolling the same student is not an error.
    already = set(Enrollment.objects.filter(exam=exam, user__in=users).values_list("user_id", flat=True))
    Enrollment.objects.bulk_create(
        [Enrollment(exam=exam, user=u) for u in users if u.pk not in already], ignore_conflicts=True
    )
    return EnrollmentChange(
        exam.pk,
        [u.get_username() for u in users if u.pk not in already],
        [u.get_username() for u in users if u.pk in already],
        Enrollment.objects.filter(exam=exam).count(),
    )


@transaction.atomic
def unenroll_students(*, exam_id: int, usernames: list[str], by: User | None) -> EnrollmentChange:
    """Remove the named students' enrollments; their attempts stay. Removing the last one opens the exam to all."""
    _staff(by)
    exam = get_exam(exam_id)
    users = _users(usernames)
    enrolled = set(Enrollment.objects.filter(exam=exam, user__in=users).values_list("user_id", flat=True))
    Enrollment.objects.filter(exam=exam, user_id__in=enrolled).delete()
    return EnrollmentChange(
        exam.pk,
        [u.get_username() for u in users if u.pk in enrolled],
        [u.get_username() for u in users if u.pk not in enrolled],
        Enrollment.objects.filter(exam=exam).count(),
    )


def usernames_from_csv(text: str) -> list[str]:
    """The usernames of a CSV: the first column of each row; a first row whose first cell is
    `username` is a header; blank rows are skipped. ServiceError(`invalid`) if it is not CSV."""
    names: list[str] = []
    for number, row in enumerate(csv_rows(text), start=1):
        cell = row[0].strip() if row else ""
        if not cell or (number == 1 and cell.lower() == "username"):
            continue
        names.append(cell)
    return names


def import_enrollments_csv(*, exam_id: int, text: str, by: User | None) -> EnrollmentChange:
    """Enroll every username of a CSV (see `usernames_from_csv`), all or none."""
    _staff(by)
    return enroll_students(exam_id=exam_id, usernames=usernames_from_csv(text), by=by)


# --- Reads -------------------------------------------------------------------------------------


def has_enrollments(exam_id: int) -> bool:
    return Enrollment.objects.filter(exam_id=exam_id).exists()


def may_sit(*, exam_id: int, user_id: int) -> bool:
    """True when the exam has no enrollments (open to all) or the student is enrolled (at most two queries)."""
    enrollments = Enrollment.objects.filter(exam_id=exam_id)
    return enrollments.filter(user_id=user_id).exists() or not enrollments.exists()


def check_may_sit(*, exam: Exam, user: User) -> None:
    """Forbidden(`not_enrolled`) when the exam has enrollments and `user` is not one of them."""
    if not may_sit(exam_id=exam.pk, user_id=user.pk):
        raise Forbidden("You are not enrolled in this exam.", code="not_enrolled")


def roster(exam_id: int) -> list[RosterRow]:
    """The exam's enrolled students by username, each with whether and how far they started (three queries)."""
    enrollments = list(Enrollment.objects.filter(exam_id=exam_id).select_related("user").order_by("user__username"))
    latest: dict[int, str] = {}
    for user_id, status in Attempt.objects.filter(exam_id=exam_id).order_by("number").values_list("user_id", "status"):
        latest[user_id] = status  # by number: the last one wins
    waiting = set(CheckIn.objects.filter(exam_id=exam_id).values_list("user_id", flat=True))
    return [
        RosterRow(
            e.user_id,
            e.user.get_username(),
            e.created_at,
            latest.get(e.user_id) or (WAITING if e.user_id in waiting else NOT_STARTED),
        )
        for e in enrollments
    ]
