"""The drill's own rows (through the ORM, on a direct connection) and what the database says happened."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

QUESTIONS = 5


def create_users(count: int, prefix: str) -> tuple[list, object]:
    """`count` students and one proctor, all with one throwaway password; returns (students, proctor)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    User = get_user_model()
    password = make_password(secrets.token_hex(8))
    User.objects.bulk_create([User(username=f"{prefix}{i}", password=password) for i in range(count)], batch_size=1000)
    proctor = User.objects.create(username=f"{prefix}proctor", password=password, is_staff=True)
    students = list(User.objects.filter(username__startswith=prefix, is_staff=False).order_by("pk"))
    return students, proctor


def token_for(user) -> str:
    from rest_framework_simplejwt.tokens import AccessToken

    return str(AccessToken.for_user(user))


def create_exam(users: list, title: str) -> tuple[int, list[int], list[tuple[int, list[str]]]]:
    """An exam with its questions and one ongoing attempt per user, far from its deadline.

    Returns (exam id, attempt ids in the order of `users`, [(question id, options)]). Rows
    are written directly, as if each student had just started; the timers are armed too.
    """
    from exams import clock, timers
    from exams.models import Attempt, Exam, Question

    exam = Exam.objects.create(title=title, duration_seconds=3 * 3600, published=True)
    Question.objects.bulk_create(
        Question(exam=exam, order=i, text=f"Q{i}", options={"A": "a", "B": "b", "C": "c"}, correct_option="A")
        for i in range(QUESTIONS)
    )
    now = clock.now()
    Attempt.objects.bulk_create(
        [Attempt(user=u, exam=exam, number=1, started_at=now, deadline_at=now + timedelta(hours=3)) for u in users],
        batch_size=1000,
    )
    by_user = dict(Attempt.objects.filter(exam=exam).values_list("user_id", "pk"))
    ids = [by_user[u.pk] for u in users]
    deadline_ms = clock.to_ms(now + timedelta(hours=3))
    timers.restore_timers((i, deadline_ms) for i in ids)
    questions = [(q.pk, sorted(q.options)) for q in Question.objects.filter(exam=exam)]
    return exam.pk, ids, questions


def set_deadlines(deadlines: dict[int, float]) -> None:
    """Move attempts' deadlines (epoch seconds) as an extension does: database, Redis, sockets."""
    from django.db import transaction

    from exams import clock, delivery
    from exams.contract import builders
    from exams.models import Attempt
    from exams.redis_clients import get_redis
    from exams.timers import DEADLINES_KEY, timer_key

    with transaction.atomic():
        for attempt_id, at in deadlines.items():
            Attempt.objects.filter(pk=attempt_id).update(deadline_at=datetime.fromtimestamp(at, UTC))
    pipe = get_redis().pipeline(transaction=False)
    now_ms = clock.now_ms()
    for attempt_id, at in deadlines.items():
        ms = int(at * 1000)
        pipe.set(timer_key(attempt_id), ms, px=max(1, ms - now_ms))
        pipe.zadd(DEADLINES_KEY, {str(attempt_id): ms})
    pipe.execute()
    # The sockets' processes tick from deadlines held in memory: tell them, as an extension does.
    events = [
        delivery.to_student(attempt.pk, builders.extended_frame(attempt, 0))
        for attempt in Attempt.objects.filter(pk__in=list(deadlines))
    ]
    delivery.publish(events, bound=delivery.BATCH_PUBLISH)


def timed_out_ids(exam_id: int) -> list[int]:
    from exams.models import Attempt

    return list(Attempt.objects.filter(exam_id=exam_id, status="timeout").values_list("pk", flat=True))


def outcomes(exam_id: int) -> dict:
    """What the database holds for the exam: statuses, timeout events, answer events and rows."""
    from exams import clock
    from exams.models import Answer, Attempt, AttemptEvent

    attempts = {
        pk: (status, ended_at, deadline)
        for pk, status, ended_at, deadline in Attempt.objects.filter(exam_id=exam_id).values_list(
            "pk", "status", "ended_at", "deadline_at"
        )
    }
    timed_out: dict[int, list] = {}
    answer_events = set()
    for attempt_id, kind, at, lateness, path, detail in AttemptEvent.objects.filter(
        attempt__exam_id=exam_id, kind__in=["timed_out", "answer_saved"]
    ).values_list("attempt_id", "kind", "at", "lateness_ms", "path", "detail"):
        if kind == "timed_out":
            timed_out.setdefault(attempt_id, []).append((lateness, path))
        else:
            answer_events.add((attempt_id, detail.get("question_id"), detail.get("selected_option"), clock.iso(at)))
    final_answers = {
        (a, q): (opt, clock.iso(at))
        for a, q, opt, at in Answer.objects.filter(attempt__exam_id=exam_id).values_list(
            "attempt_id", "question_id", "selected_option", "saved_at"
        )
    }
    return {
        "attempts": attempts,
        "timed_out": timed_out,
        "answer_events": answer_events,
        "final_answers": final_answers,
    }


def cleanup(prefix: str) -> None:
    from django.contrib.auth import get_user_model

    from exams.models import Exam

    Exam.objects.filter(title__startswith=prefix).delete()
    get_user_model().objects.filter(username__startswith=prefix).delete()
