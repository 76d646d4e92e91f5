"""What a student may see of an ended attempt, and when: the exam's review policy, decided here only.

A student always sees an ended attempt's score. The exam's `review_shows` (their answers, or
their answers and the correct ones) follows when its `review_when` says:

- `at_once`: as soon as the attempt ends;
- `closed`: once `closes_at` has passed and no attempt of the exam is still running (a proctor's
  extension can run past it). An exam without `closes_at` never closes by itself: only a
  proctor's release opens its review;
- `released`: once a proctor has released it.

A proctor's release opens the review under any `review_when`. Whatever the policy, correct
answers never reach a student who can still sit the exam again (an attempt under way, or
attempts left while the exam is open): the next attempt would copy them. While an attempt
runs, its student sees their own answers and nothing of their correctness. Proctors see
everything. Every body and frame that could carry answers or correctness is built from a
`Review` this module made (exams/contract/builders.py).
"""

from dataclasses import dataclass
from datetime import datetime

from .models import Attempt, Exam, ReviewShows, ReviewWhen

# What the rest of the review waits for (`Review.waits_for`).
WAITS_FOR_CLOSE = "exam_closed"
WAITS_FOR_RELEASE = "release"
WAITS_FOR_LAST_ATTEMPT = "last_attempt"
WAITS_FOR = [WAITS_FOR_CLOSE, WAITS_FOR_RELEASE, WAITS_FOR_LAST_ATTEMPT]


@dataclass(frozen=True)
class Review:
    """What one body shows of an attempt: `shows` now; `later`, once `waits_for` happens (None: nothing more)."""

    shows: str
    later: str | None = None
    waits_for: str | None = None

    @property
    def answers(self) -> bool:
        """The student's chosen options, question by question."""
        return self.shows != ReviewShows.SCORE

    @property
    def correct(self) -> bool:
        """Each question's correct option, and whether the student's was it."""
        return self.shows == ReviewShows.CORRECT


# A proctor's view of any attempt.
EVERYTHING = Review(ReviewShows.CORRECT)
# An attempt under way: its student's own answers, nothing of their correctness.
DURING_ATTEMPT = Review(ReviewShows.ANSWERS)


def what_student_sees(attempt: Attempt, now: datetime) -> Review:
    """The review policy of `attempt.exam` applied to its student at `now` (reads the database)."""
    if attempt.is_ongoing or attempt.is_overdue:
        return DURING_ATTEMPT
    exam = attempt.exam
    target = exam.review_shows
    if target == ReviewShows.SCORE:
        return Review(ReviewShows.SCORE)
    waiting = _waits_for(exam, now)
    if waiting is not None:
        return Review(ReviewShows.SCORE, later=target, waits_for=waiting)
    if target == ReviewShows.CORRECT and _may_sit_again(exam, user_id=attempt.user_id, now=now):
        return Review(ReviewShows.ANSWERS, later=target, waits_for=WAITS_FOR_LAST_ATTEMPT)
    return Review(target)


def is_closed(exam: Exam, now: datetime) -> bool:
    """Past `closes_at` (no new attempt can start); never for an exam without one."""
    return exam.closes_at is not None and now >= exam.closes_at


def _waits_for(exam: Exam, now: datetime) -> str | None:
    """None once the policy's time has come, else what it waits for."""
    if exam.review_released_at is not None and exam.review_released_at <= now:
        return None
    if exam.review_when == ReviewWhen.AT_ONCE:
        return None
    if exam.review_when == ReviewWhen.CLOSED and exam.closes_at is not None:
        if not is_closed(exam, now) or Attempt.objects.filter(exam_id=exam.pk).submittable(now).exists():
            return WAITS_FOR_CLOSE
        return None
    return WAITS_FOR_RELEASE


def _may_sit_again(exam: Exam, *, user_id: int, now: datetime) -> bool:
    """The student has an attempt under way, or may start another one."""
    attempts = Attempt.objects.filter(exam_id=exam.pk, user_id=user_id)
    if attempts.submittable(now).exists():
        return True
    return not is_closed(exam, now) and attempts.count() < exam.max_attempts
