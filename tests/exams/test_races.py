"""Racing writers on real threads, each with its own database connection: exactly one wins."""

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connections

from exams import clock, services, timers
from exams.contract import builders
from exams.errors import Conflict
from exams.models import Answer, Attempt, AttemptEvent, AttemptStatus, EventKind, ExpiryPath, Question

pytestmark = pytest.mark.django_db(transaction=True)

END_KINDS = (EventKind.SUBMITTED, EventKind.TIMED_OUT)


def run_together(*funcs: Callable, timeout: float = 30) -> list:
    """Run each function on its own thread, released together by a barrier; returns their results."""
    barrier = threading.Barrier(len(funcs))
    results: list = [None] * len(funcs)
    errors: list = [None] * len(funcs)

    def run(index: int, func: Callable) -> None:
        try:
            barrier.wait(timeout)
            results[index] = func()
        except BaseException as exc:
            errors[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(funcs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a racing thread hung"
    for error in errors:
        if error is not None:
            raise error
    return results


def _sleep_until(moment_s: float) -> None:
    """Release a racer at a chosen moment around the deadline: the race is set up in time."""
    time.sleep(max(0.0, moment_s - time.time()))


# Where the student's submit lands relative to the deadline, in seconds; the sweeper fires on it.
SUBMIT_OFFSETS = [-0.02, -0.005, 0.0, 0.0, 0.005, 0.02, 0.3]


@pytest.mark.parametrize("offset", SUBMIT_OFFSETS)
def test_submit_racing_the_timeout_ends_the_attempt_once(make_user, exam, clean_redis, offset):
    student = make_user()
    attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt
    question = Question.objects.filter(exam=exam).first()
    services.save_answer(user=student, attempt_id=attempt.pk, question_id=question.pk, selected_option="A")
    # The deadline lands just after both threads are released.
    deadline = clock.now() + timedelta(seconds=0.15)
    Attempt.objects.filter(pk=attempt.pk).update(deadline_at=deadline)
    deadline_s = deadline.timestamp()

    def submit() -> dict:
        _sleep_until(deadline_s + offset)
        return builders.result(services.submit_attempt(user=student, attempt_id=attempt.pk))

    def sweep() -> bool:
        # What the sweeper does: claim at the deadline and retry until the attempt is due or over.
        _sleep_until(deadline_s)
        give_up = time.time() + 5
        while time.time() < give_up:
            if services.expire_attempt(attempt_id=attempt.pk, path=ExpiryPath.SWEEPER):
                return True
            if not Attempt.objects.filter(pk=attempt.pk, status=AttemptStatus.ONGOING).exists():
                return False
            time.sleep(0.002)
        raise AssertionError("the attempt neither ended nor became due")

    result, swept = run_together(submit, sweep)

    attempt.refresh_from_db()
    assert attempt.status in (AttemptStatus.COMPLETED, AttemptStatus.TIMEOUT)
    ends = list(AttemptEvent.objects.filter(attempt=attempt, kind__in=END_KINDS))
    assert len(ends) == 1
    assert result["status"] == attempt.status
    assert (result["score"], attempt.score) == (1, 1)
    if attempt.status == AttemptStatus.COMPLETED:
        assert ends[0].kind == EventKind.SUBMITTED and swept is False
    else:
        assert ends[0].kind == EventKind.TIMED_OUT
        assert ends[0].path == (ExpiryPath.SWEEPER if swept else ExpiryPath.ON_ACCESS)
    assert not clean_redis.exists(timers.timer_key(attempt.pk))


def test_late_submits_and_expiries_all_at_once_end_the_attempt_once(make_user, exam):
    for _ in range(3):
        student = make_user()
        attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt
        Attempt.objects.filter(pk=attempt.pk).update(deadline_at=clock.now() - timedelta(seconds=1))

        results = run_together(
            lambda: services.submit_attempt(user=student, attempt_id=attempt.pk),
            lambda: services.submit_attempt(user=student, attempt_id=attempt.pk),
            lambda: services.expire_attempt(attempt_id=attempt.pk, path=ExpiryPath.KEYSPACE),
            lambda: services.expire_attempt(attempt_id=attempt.pk, path=ExpiryPath.SWEEPER),
        )

        assert Attempt.objects.get(pk=attempt.pk).status == AttemptStatus.TIMEOUT
        assert results[0].attempt.status == results[1].attempt.status == AttemptStatus.TIMEOUT
        assert AttemptEvent.objects.filter(attempt=attempt, kind=EventKind.TIMED_OUT).count() == 1
        assert not AttemptEvent.objects.filter(attempt=attempt, kind=EventKind.SUBMITTED).exists()
        # At most one of the two expirers won; when neither did, a submit timed it out on access.
        assert [results[2], results[3]].count(True) <= 1


def test_concurrent_starts_make_one_attempt(make_user, make_exam):
    exam = make_exam(max_attempts=3)
    for _ in range(3):
        student = make_user()
        results = run_together(*[lambda: services.start_attempt(user=student, exam_id=exam.pk)] * 4)

        attempts = Attempt.objects.filter(user=student, exam=exam)
        assert attempts.count() == 1
        attempt = attempts.get()
        assert {r.attempt.pk for r in results} == {attempt.pk}
        assert [r.created for r in results].count(True) == 1
        assert {r.attempt.deadline_at for r in results} == {attempt.deadline_at}
        assert AttemptEvent.objects.filter(attempt=attempt, kind=EventKind.STARTED).count() == 1


def test_concurrent_expiries_flip_each_attempt_once(make_user, exam):
    attempts = [services.start_attempt(user=make_user(), exam_id=exam.pk).attempt for _ in range(30)]
    ids = [a.pk for a in attempts]
    Attempt.objects.filter(pk__in=ids).update(deadline_at=clock.now() - timedelta(seconds=1))

    by_sweeper, by_reconciler = run_together(
        lambda: services.expire_attempts(attempt_ids=ids, path=ExpiryPath.SWEEPER),
        lambda: services.expire_attempts(attempt_ids=list(reversed(ids)), path=ExpiryPath.RECONCILER),
    )

    swept = {a.pk for a in by_sweeper}
    reconciled = {a.pk for a in by_reconciler}
    assert not swept & reconciled
    assert swept | reconciled == set(ids)
    assert set(Attempt.objects.filter(pk__in=ids).values_list("status", flat=True)) == {AttemptStatus.TIMEOUT}
    events = AttemptEvent.objects.filter(attempt_id__in=ids, kind=EventKind.TIMED_OUT)
    assert events.count() == len(ids)
    for event in events:
        assert event.path == (ExpiryPath.SWEEPER if event.attempt_id in swept else ExpiryPath.RECONCILER)


def test_answers_racing_the_submit_are_either_scored_or_refused(make_user, make_exam):
    exam = make_exam(questions=6, review_when="at_once")  # the result shows each answer's correctness
    questions = list(Question.objects.filter(exam=exam))
    for _ in range(4):
        student = make_user()
        attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt

        def answer(question) -> Callable:
            def send():
                try:
                    services.save_answer(
                        user=student, attempt_id=attempt.pk, question_id=question.pk, selected_option="A"
                    )
                    return True
                except Conflict:
                    return False

            return send

        results = run_together(
            *[answer(q) for q in questions],
            lambda: builders.result(services.submit_attempt(user=student, attempt_id=attempt.pk)),
        )

        saved, result = results[:-1], results[-1]
        stored = Answer.objects.filter(attempt=attempt).count()
        # Every answer that was accepted is stored and counted in the score; no refused one is.
        assert stored == saved.count(True)
        attempt.refresh_from_db()
        assert attempt.status == AttemptStatus.COMPLETED
        assert attempt.score == stored
        # The submit's result counts those saved before it; one received before the submit but
        # processed after it is added to the score then.
        assert result["score"] == result["answered"] <= stored
        assert sum(row["is_correct"] for row in result["results"]) == result["score"]
