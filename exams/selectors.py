"""Reads: attempts, exams, questions and answers as models and plain values.

No shapes are built here (exams/contract/builders.py turns these reads into bodies and
frames) and nothing but the database is read.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from django.contrib.auth.models import User
from django.db.models import Count, Exists, Max, OuterRef, Q

from . import deadlines
from .errors import Forbidden, NotFound
from .id_lists import ids_in
from .models import (
    CLEARED,
    Accommodation,
    Answer,
    Attempt,
    AttemptEvent,
    AttemptStatus,
    CloseOverride,
    Enrollment,
    EventKind,
    Exam,
    Question,
)
from .review import Review


def get_attempt(attempt_id: int) -> Attempt:
    try:
        return Attempt.objects.select_related("exam", "user").get(pk=attempt_id)
    except Attempt.DoesNotExist:
        raise NotFound(f"Attempt {attempt_id} does not exist.") from None


def attempts_by_id(attempt_ids: list[int]) -> dict[int, Attempt]:
    return {a.pk: a for a in Attempt.objects.with_ids(attempt_ids)}


def get_own_attempt(*, user: User, attempt_id: int) -> Attempt:
    """The attempt if it belongs to `user`: 404 when missing, 403 when someone else's."""
    attempt = get_attempt(attempt_id)
    if attempt.user_id != user.pk:
        raise Forbidden("This attempt belongs to another user.", code="not_owner")
    return attempt


def get_exam(exam_id: int) -> Exam:
    try:
        return Exam.objects.get(pk=exam_id)
    except Exam.DoesNotExist:
        raise NotFound(f"Exam {exam_id} does not exist.") from None


@dataclass(frozen=True)
class Sheet:
    """An attempt with its exam's questions, its saved answers (question id -> option) and what
    of them its reader may see (exams/review.py)."""

    attempt: Attempt
    questions: list[Question]
    answers: dict[int, str]
    review: Review
    forced: bool = False  # ended by a proctor's force submit


def attempt_sheet(attempt: Attempt, review: Review) -> Sheet:
    """The attempt's questions and answers, read together (for its result or its question list),
    for a reader who sees `review` of them: review.what_student_sees for its student, EVERYTHING for a proctor."""
    questions = list(Question.objects.filter(exam_id=attempt.exam_id))
    answers = dict(
        Answer.objects.filter(attempt=attempt)
        .exclude(selected_option=CLEARED)
        .values_list("question_id", "selected_option")
    )
    return Sheet(attempt, questions, answers, review, forced=bool(forced_attempt_ids([attempt])))


def forced_attempt_ids(attempts: list[Attempt]) -> set[int]:
    """Those of the (ended) attempts a proctor force-submitted, in one query (none for ongoing ones)."""
    ended = [a.pk for a in attempts if a.status == AttemptStatus.COMPLETED]
    if not ended:
        return set()
    return set(
        AttemptEvent.objects.filter(attempt_id__in=ended, kind=EventKind.FORCE_SUBMITTED).values_list(
            "attempt_id", flat=True
        )
    )


def attempts_in_order(attempt_ids: list[int]) -> list[Attempt]:
    """The attempts, ordered by id, without their students: the students' frames of an exam-wide change
    need only the attempts."""
    return list(Attempt.objects.with_ids(attempt_ids).order_by("id"))


class Progress(NamedTuple):
    """An attempt with how far its student got: what a proctor's row shows."""

    attempt: Attempt
    answered: int
    last_answer_at: datetime | None
    total_questions: int


def with_progress(attempts: list[Attempt]) -> list[Progress]:
    """Each attempt with its answer count, last answer and exam's question count (two queries for all)."""
    ids = [a.pk for a in attempts]
    progress = {
        row["attempt_id"]: row
        for row in Answer.objects.filter(ids_in("attempt_id", ids))
        .values("attempt_id")
        .annotate(n=Count("id", filter=~Q(selected_option=CLEARED)), last=Max("saved_at"))
        .order_by()
    }
    exam_ids = {a.exam_id for a in attempts}
    totals = dict(Exam.objects.filter(pk__in=exam_ids).annotate(n=Count("questions")).values_list("pk", "n"))
    return [
        Progress(
            attempt,
            progress[attempt.pk]["n"] if attempt.pk in progress else 0,
            progress[attempt.pk]["last"] if attempt.pk in progress else None,
            totals.get(attempt.exam_id, 0),
        )
        for attempt in attempts
    ]


def exam_history(*, exam_id: int, limit: int) -> list[AttemptEvent]:
    """The newest `limit` events of the exam's attempts (with their students), oldest first (one query)."""
    qs = AttemptEvent.objects.filter(attempt__exam_id=exam_id).select_related("attempt__user").order_by("-at", "-id")
    return list(reversed(qs[:limit]))


class ResultRow(NamedTuple):
    """An attempt of the results export, with the number of incidents recorded against it."""

    attempt: Attempt
    incidents: int


# The AttemptEvent kind roomcomms records an incident under (issue 12 §3).
INCIDENT_EVENT = "incident"


def results_page(*, exam_id: int, after_id: int, size: int) -> list[ResultRow]:
    """Up to `size` of the exam's attempts with ids above `after_id`, in id order, with their students (two queries)."""
    attempts = list(
        Attempt.objects.select_related("user").filter(exam_id=exam_id, pk__gt=after_id).order_by("id")[:size]
    )
    counts = dict(
        AttemptEvent.objects.filter(attempt_id__in=[a.pk for a in attempts], kind=INCIDENT_EVENT)
        .values("attempt_id")
        .annotate(n=Count("id"))
        .values_list("attempt_id", "n")
        .order_by()
    )
    return [ResultRow(a, counts.get(a.pk, 0)) for a in attempts]


def proctor_attempts(*, exam_id: int | None = None, attempt_ids: list[int] | None = None) -> list[Progress]:
    """The attempts a proctor sees, by exam or by id, with their students and progress, in three queries."""
    qs = Attempt.objects.select_related("user")
    if exam_id is not None:
        qs = qs.filter(exam_id=exam_id)
    if attempt_ids is not None:
        qs = qs.with_ids(attempt_ids)
    return with_progress(list(qs.order_by("id")))


class ExamListing(NamedTuple):
    """An exam with its question count, and either the student's attempts or the attempts in progress."""

    exam: Exam
    total_questions: int
    attempts: list[Attempt]
    ongoing: int
    forced: frozenset[int] = frozenset()  # those of `attempts` a proctor force-submitted
    # For a student: the time an attempt started now gets (their accommodation applied), and their close.
    allotted_seconds: int = 0
    student_close_at: datetime | None = None


def exams_for_student(user: User) -> list[ExamListing]:
    """Published exams open to the student (no enrollments, or enrolled), each with their attempts in order."""
    any_enrollment = Enrollment.objects.filter(exam_id=OuterRef("pk"))
    own = Enrollment.objects.filter(exam_id=OuterRef("pk"), user_id=user.pk)
    exams = list(
        Exam.objects.filter(published=True)
        .filter(~Exists(any_enrollment) | Exists(own))
        .annotate(n=Count("questions"))
        .order_by("id")
    )
    attempts: dict[int, list[Attempt]] = {}
    mine = list(Attempt.objects.filter(user=user, exam__in=exams).order_by("number"))
    for attempt in mine:
        attempts.setdefault(attempt.exam_id, []).append(attempt)
    forced = frozenset(forced_attempt_ids(mine))
    accommodations = {a.exam_id: a for a in Accommodation.objects.filter(user=user)}
    closes = dict(CloseOverride.objects.filter(user=user).values_list("exam_id", "close_at"))
    return [
        ExamListing(
            exam,
            exam.n,
            attempts.get(exam.pk, []),
            0,
            forced,
            allotted_for(exam, accommodations.get(exam.pk) or accommodations.get(None)),
            closes.get(exam.pk, exam.closes_at),
        )
        for exam in exams
    ]


def allotted_for(exam: Exam, accommodation: Accommodation | None) -> int:
    """The allotted seconds an attempt at `exam` starts with under `accommodation` (exams/deadlines.py's rule)."""
    if accommodation is None:
        return exam.duration_seconds
    return deadlines.allotted_seconds(exam.duration_seconds, accommodation.multiplier, accommodation.extra_seconds)


def exams_for_proctor(*, exam_id: int | None = None) -> list[ExamListing]:
    """Every exam (or the one with `exam_id`), with how many of its attempts are in progress."""
    exams = (
        Exam.objects.filter(**({} if exam_id is None else {"pk": exam_id}))
        .annotate(
            n=Count("questions", distinct=True),
            ongoing=Count("attempts", filter=Q(attempts__status=AttemptStatus.ONGOING), distinct=True),
        )
        .order_by("id")
    )
    return [ExamListing(exam, exam.n, [], exam.ongoing) for exam in exams]


def user_rights(user_ids: list[int]) -> dict[int, tuple[bool, bool]]:
    """(is_active, is_staff) of each of these users that exists, in one query."""
    rows = User.objects.filter(pk__in=user_ids).values_list("pk", "is_active", "is_staff")
    return {pk: (active, staff) for pk, active, staff in rows}


def pause_reasons(attempt_ids: list[int]) -> dict[int, dict]:
    """Each attempt's latest pause (category, note, by, scope), from its `paused` events, in one query."""
    reasons: dict[int, dict] = {}
    events = AttemptEvent.objects.filter(ids_in("attempt_id", attempt_ids), kind=EventKind.PAUSED).order_by("id")
    for attempt_id, detail in events.values_list("attempt_id", "detail"):
        reasons[attempt_id] = detail
    return reasons


def pause_reason(attempt_id: int) -> tuple[str, str]:
    """(category, note) of the attempt's latest pause, for a socket connecting to a paused attempt."""
    detail = pause_reasons([attempt_id]).get(attempt_id, {})
    return detail.get("category", "other"), detail.get("note", "")


def accommodations(*, exam_id: int | None = None, username: str | None = None) -> list[Accommodation]:
    """Accommodations (for `exam_id`: its own and the all-exams ones), with their students."""
    qs = Accommodation.objects.select_related("user", "created_by").order_by("id")
    if exam_id is not None:
        qs = qs.filter(Q(exam_id=exam_id) | Q(exam__isnull=True))
    if username is not None:
        qs = qs.filter(user__username=username)
    return list(qs)


def close_overrides(*, exam_id: int) -> list[CloseOverride]:
    """The exam's close overrides, with their students."""
    return list(CloseOverride.objects.select_related("user", "created_by").filter(exam_id=exam_id).order_by("id"))
