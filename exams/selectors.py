"""Reads: attempts and exams turned into the contract's plain dicts."""

from datetime import datetime

from django.db.models import Count, Max, Q, Sum

from . import clock, deadlines
from .errors import Forbidden, NotFound
from .models import Answer, Attempt, AttemptStatus, Exam, Question
from .presence import connected_map


def get_attempt(attempt_id: int) -> Attempt:
    try:
        return Attempt.objects.select_related("exam", "user").get(pk=attempt_id)
    except Attempt.DoesNotExist:
        raise NotFound(f"Attempt {attempt_id} does not exist.") from None


def attempts_by_id(attempt_ids: list[int]) -> dict[int, Attempt]:
    return {a.pk: a for a in Attempt.objects.filter(pk__in=attempt_ids)}


def get_own_attempt(*, user, attempt_id: int) -> Attempt:
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


def timer_fields(attempt_id: int, status: str, deadline: datetime, at: datetime) -> dict:
    """The `timer` fields of the contract."""
    return {
        "attempt_id": attempt_id,
        "status": status,
        "remaining_seconds": deadlines.remaining_seconds(deadline, at) if status == AttemptStatus.ONGOING else 0,
        "deadline": clock.iso(deadline),
        "server_time": clock.iso(at),
    }


def timer_payload(attempt: Attempt, *, at: datetime | None = None) -> dict:
    return timer_fields(attempt.pk, attempt.status, attempt.deadline_at, at or clock.now())


def exam_max_score(exam_id: int) -> int:
    return Question.objects.filter(exam_id=exam_id).aggregate(total=Sum("points"))["total"] or 0


def result_payload(attempt: Attempt) -> dict:
    """The submit result: score and, once the attempt has ended, each question's outcome."""
    questions = list(Question.objects.filter(exam_id=attempt.exam_id))
    answers = {a.question_id: a.selected_option for a in Answer.objects.filter(attempt=attempt)}
    score = attempt.score or 0
    max_score = attempt.max_score if attempt.max_score is not None else sum(q.points for q in questions)
    ended = not attempt.is_ongoing
    results = []
    for q in questions:
        selected = answers.get(q.pk)
        row = {"question_id": q.pk, "selected_option": selected, "points": q.points}
        if ended:
            row["correct_option"] = q.correct_option
            row["is_correct"] = selected == q.correct_option
        results.append(row)
    return {
        "attempt_id": attempt.pk,
        "status": attempt.status,
        "score": score,
        "max_score": max_score,
        "percentage": round(100 * score / max_score, 2) if max_score else 0.0,
        "answered": len(answers),
        "total_questions": len(questions),
        "results": results,
    }


def questions_payload(attempt: Attempt) -> dict:
    """The attempt's questions and saved choices; the correct option only once it has ended."""
    answers = {a.question_id: a.selected_option for a in Answer.objects.filter(attempt=attempt)}
    ended = not attempt.is_ongoing
    questions = []
    for q in Question.objects.filter(exam_id=attempt.exam_id):
        row = {
            "id": q.pk,
            "text": q.text,
            "options": q.options,
            "points": q.points,
            "selected_option": answers.get(q.pk),
        }
        if ended:
            row["correct_option"] = q.correct_option
        questions.append(row)
    payload = timer_payload(attempt)
    payload.update(exam_id=attempt.exam_id, exam_title=attempt.exam.title, questions=questions)
    return payload


def proctor_attempts(*, exam_id: int | None = None, attempt_ids: list[int] | None = None) -> list[dict]:
    """The proctor's view of attempts, by exam or by id, in a fixed number of queries."""
    qs = Attempt.objects.select_related("user").annotate(
        answered=Count("answers"), last_answer_at=Max("answers__saved_at")
    )
    if exam_id is not None:
        qs = qs.filter(exam_id=exam_id)
    if attempt_ids is not None:
        qs = qs.filter(pk__in=attempt_ids)
    attempts = list(qs.order_by("id"))
    exam_ids = {a.exam_id for a in attempts}
    totals = dict(Exam.objects.filter(pk__in=exam_ids).annotate(n=Count("questions")).values_list("pk", "n"))
    connected = connected_map(a.pk for a in attempts if a.is_ongoing)
    at = clock.now()
    return [
        {
            **timer_payload(attempt, at=at),
            "exam_id": attempt.exam_id,
            "student": attempt.user.get_username(),
            "answered": attempt.answered,
            "total_questions": totals.get(attempt.exam_id, 0),
            "connected": connected.get(attempt.pk, False),
            "started_at": clock.iso(attempt.started_at),
            "ended_at": clock.iso(attempt.ended_at),
            "extra_seconds": attempt.extra_seconds,
            "score": attempt.score,
            "max_score": attempt.max_score,
            "last_activity": clock.iso(attempt.last_answer_at or attempt.started_at),
        }
        for attempt in attempts
    ]


def exams_for_student(user) -> list[dict]:
    """Published exams, each with this student's attempts."""
    exams = list(Exam.objects.filter(published=True).annotate(total_questions=Count("questions")).order_by("id"))
    attempts: dict[int, list[Attempt]] = {}
    for attempt in Attempt.objects.filter(user=user, exam__in=exams).order_by("number"):
        attempts.setdefault(attempt.exam_id, []).append(attempt)
    return [
        {
            **exam_summary(exam),
            "attempts": [
                {**timer_payload(a), "number": a.number, "score": a.score, "max_score": a.max_score}
                for a in attempts.get(exam.pk, [])
            ],
        }
        for exam in exams
    ]


def exams_for_proctor() -> list[dict]:
    exams = Exam.objects.annotate(
        total_questions=Count("questions", distinct=True),
        ongoing=Count("attempts", filter=Q(attempts__status=AttemptStatus.ONGOING), distinct=True),
    ).order_by("id")
    return [{**exam_summary(exam), "published": exam.published, "ongoing": exam.ongoing} for exam in exams]


def exam_summary(exam: Exam) -> dict:
    return {
        "id": exam.pk,
        "title": exam.title,
        "description": exam.description,
        "duration_seconds": exam.duration_seconds,
        "max_attempts": exam.max_attempts,
        "opens_at": clock.iso(exam.opens_at),
        "closes_at": clock.iso(exam.closes_at),
        "total_questions": exam.total_questions,
    }
