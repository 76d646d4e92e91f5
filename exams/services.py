"""The business rules of an attempt: the one place REST views, consumers and the listener call.

Every end-state change is one conditional UPDATE (`... WHERE status='ongoing'`): of two
racing writers exactly one wins. Scoring and the event row share its transaction, and
notifications go out on commit.
"""

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import (
    BigIntegerField,
    DateTimeField,
    DurationField,
    Expression,
    ExpressionWrapper,
    F,
    OuterRef,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Floor

from . import (
    clock,
    close_choice,
    deadlines,
    metrics,
    notifications,
    review,
    start_pause,
    time_control,
    timers,
    waiting_room,
    windows,
)
from .contract import codes
from .contract.limits import MAX_EXTEND_SECONDS
from .errors import Conflict, Forbidden, NotAuthenticated, NotFound, ServiceError, TimeUp, Unavailable
from .insert_select import insert_like
from .models import (
    CLEARED,
    Answer,
    AtDeadline,
    Attempt,
    AttemptEvent,
    AttemptStatus,
    EventKind,
    Exam,
    ExamEvent,
    ExamEventKind,
    ExpiryPath,
    Question,
)
from .redis_clients import get_optional_redis
from .selectors import ExamListing, Sheet, attempt_sheet, exams_for_student, get_attempt, get_exam, get_own_attempt

logger = logging.getLogger(__name__)


PAUSED_MESSAGE = "A proctor paused this attempt: its clock stands still."


@dataclass(frozen=True)
class StartResult:
    attempt: Attempt
    created: bool


def _on_commit(func) -> None:
    # robust: a Redis hiccup while notifying must not turn a committed change into an error.
    transaction.on_commit(func, robust=True)


def _best_effort_redis(action: str, func, *args) -> None:
    """Redis writes that the database can rebuild later (the reconciler does) must not fail a request.

    Nor hold one: they go through the fast-failing client (exams/redis_clients.py).
    """
    try:
        func(*args, client=get_optional_redis())
    except redis.RedisError:
        logger.warning("Redis unavailable while %s; the reconciler will repair it", action, exc_info=True)


# --- Start ----------------------------------------------------------------------------


def start_attempt(*, user: User, exam_id: int) -> StartResult:
    """Start an attempt, or resume the ongoing one with its true remaining time."""
    exam = get_exam(exam_id)
    if not exam.published:
        raise ServiceError("This exam is not published.", code="exam_not_published")
    # Enrollment, and a waiting-room exam's start and start code (exams/waiting_room.py).
    waiting_room.check_may_start(exam=exam, user=user, now=clock.now())
    for _ in range(3):
        try:
            return _start_or_resume(user=user, exam=exam)
        except (IntegrityError, _StartRaced):
            # Another request of this student started an attempt first: go round and resume it.
            continue
    raise Conflict("Could not start the attempt; please retry.", code="start_conflict")


class _StartRaced(Exception):
    """Another start of the same student committed first."""


def _start_or_resume(*, user: User, exam: Exam) -> StartResult:
    now = clock.now()
    # An overdue attempt (in its hand-in window) is resumed too: its student must still submit it.
    ongoing = Attempt.objects.filter(user=user, exam=exam).unfinished().order_by("-number").first()
    if ongoing is not None:
        if not ongoing.is_due(now):
            _restore_timer(ongoing)
            AttemptEvent.objects.create(attempt=ongoing, kind=EventKind.RESUMED, at=now)
            return StartResult(ongoing, created=False)
        expire_attempts(attempt_ids=[ongoing.pk], path=ExpiryPath.ON_ACCESS)

    windows.start_terms(user=user, exam=exam, now=now)  # refuses before any lock is taken

    with transaction.atomic():
        # One start at a time per student: without the lock, a start that read "no ongoing
        # attempt" before a racing one committed would count it and create attempt n + 1.
        list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
        if Attempt.objects.filter(user=user, exam=exam).unfinished().exists():
            raise _StartRaced
        used = Attempt.objects.filter(user=user, exam=exam).count()
        if used >= exam.max_attempts:
            raise Conflict("No attempts left for this exam.", code="attempts_exhausted")
        # Under the exam's row lock, shared with other starts: a whole-exam pause is read as it stands,
        # and one in flight waits for this start to commit, then pauses it (exams/start_pause.py).
        pause = start_pause.locked_pause(exam.pk)
        now = clock.now()
        terms = windows.start_terms(user=user, exam=exam, now=now)
        deadline = deadlines.attempt_deadline(now, terms.allotted_seconds, 0, timedelta(0), terms.close_at)
        attempt = Attempt.objects.create(
            user=user,
            exam=exam,
            number=used + 1,
            started_at=now,
            allotted_seconds=terms.allotted_seconds,
            accommodation_seconds=terms.accommodation_seconds,
            close_at=terms.close_at,
            deadline_at=deadline,
            paused_at=None if pause is None else start_pause.paused_from(pause, now),
        )
        AttemptEvent.objects.create(attempt=attempt, kind=EventKind.STARTED, at=now, detail=terms.detail)
        if pause is not None:
            # Its clock stands still from the start: no timer until the exam resumes (end_pauses arms it).
            start_pause.record_pauses([attempt], pause)
        else:
            try:
                timers.create_timer(attempt.pk, deadline_ms=clock.to_ms(deadline))
            except redis.RedisError as exc:
                # Raising rolls the attempt back: nothing is left behind without its timer.
                raise Unavailable("The timer service (Redis) is unavailable; please try again shortly.") from exc
        _on_commit(lambda: notifications.attempt_started(attempt))
    return StartResult(attempt, created=True)


# --- Answers --------------------------------------------------------------------------


def save_answer(
    *,
    user: User,
    attempt_id: int,
    question_id: int,
    selected_option: str | None,
    received_at: datetime | None = None,
) -> Answer:
    """Store (or replace) the answer to one question if it was received in time; `None` clears it
    ("clear my choice"), under the same rule.

    `received_at` is when the server received it (REST: project/receipt.py; a socket: the
    message's arrival), now by default: time spent waiting after that (a busy worker, a slow
    Redis) never makes an answer late. One received in time but processed after the attempt
    ended (the timeout or a submit won the race meanwhile) is still stored, and the attempt
    re-scored.
    """
    received_at = received_at or clock.now()
    with transaction.atomic():
        # The row lock orders this against a racing submit or timeout of the same attempt.
        attempt = Attempt.objects.select_for_update().filter(pk=attempt_id).first()
        if attempt is None:
            raise NotFound(f"Attempt {attempt_id} does not exist.")
        if attempt.user_id != user.pk:
            raise Forbidden("This attempt belongs to another user.", code="not_owner")
        if attempt.status == AttemptStatus.COMPLETED and not (attempt.ended_at and received_at < attempt.ended_at):
            raise Conflict("This attempt has been submitted; the answer was not saved.", code="attempt_completed")
        if attempt.paused_at is not None and attempt.is_ongoing and received_at >= attempt.paused_at:
            raise Conflict(PAUSED_MESSAGE + " The answer was not saved.", code="attempt_paused")
        if not deadlines.is_due(attempt.deadline_at, received_at):
            question = Question.objects.filter(pk=question_id, exam_id=attempt.exam_id).first()
            if question is None:
                raise NotFound(f"Question {question_id} is not part of this exam.", code="invalid_question")
            if selected_option is not None and selected_option not in question.options:
                raise NotFound(
                    f"Option {selected_option!r} is not one of {sorted(question.options)}.", code="invalid_option"
                )
            return _store_answer(attempt, question, selected_option or CLEARED, received_at)
        # A resend, after the deadline, of an answer already stored in time (its reply was lost
        # with a dropped socket): acknowledging it changes nothing, refusing it would say "lost".
        stored = Answer.objects.filter(
            attempt=attempt, question_id=question_id, selected_option=selected_option or CLEARED
        ).first()
        if stored is not None:
            return stored
    if attempt.is_ongoing or attempt.is_overdue:
        expire_attempts(attempt_ids=[attempt_id], path=ExpiryPath.ON_ACCESS)
    if attempt.is_overdue:
        raise TimeUp("Time is up: the answers are locked; submit the attempt. The answer was not saved.")
    raise TimeUp("Time is up for this attempt; the answer was not saved.")


def _store_answer(attempt: Attempt, question: Question, selected_option: str, received_at: datetime) -> Answer:
    """Write an answer received in time; the caller holds the attempt's row lock."""
    stored = Answer.objects.filter(attempt=attempt, question=question).first()
    if stored is not None and stored.saved_at > received_at:
        # Answers can be processed out of order: the one received last stands.
        return stored
    answer, _ = Answer.objects.update_or_create(
        attempt=attempt, question=question, defaults={"selected_option": selected_option, "saved_at": received_at}
    )
    detail = {"question_id": question.pk, "selected_option": selected_option}
    if attempt.status in (AttemptStatus.COMPLETED, AttemptStatus.TIMEOUT):
        # Received in time, processed after the end: the score must count it.
        Attempt.objects.filter(pk=attempt.pk).update(**_score_expressions())
        detail["after_end"] = attempt.status
        logger.info(
            "attempt %s: answer received at %s, before its %s at %s, stored and re-scored",
            attempt.pk,
            clock.iso(received_at),
            attempt.status,
            clock.iso(attempt.ended_at),
        )
    AttemptEvent.objects.create(attempt=attempt, kind=EventKind.ANSWER_SAVED, at=received_at, detail=detail)
    _on_commit(lambda: notifications.answer_saved(answer, attempt))
    return answer


# --- Ending: submit, force submit, timeout -------------------------------------------


def _score_expressions() -> dict:
    """Score and max score computed by the database inside the ending UPDATE."""
    earned = (
        Answer.objects.filter(attempt_id=OuterRef("pk"), selected_option=F("question__correct_option"))
        .values("attempt_id")
        .annotate(total=Sum("question__points"))
        .values("total")
    )
    possible = (
        Question.objects.filter(exam_id=OuterRef("exam_id"))
        .values("exam_id")
        .annotate(total=Sum("points"))
        .values("total")
    )
    return {"score": Coalesce(Subquery(earned), Value(0)), "max_score": Coalesce(Subquery(possible), Value(0))}


def _end_attempts(
    *, ids: Iterable[int], status: str, now: datetime, due_only: bool, fields: Sequence[str] = ()
) -> list[Attempt]:
    """The compare-and-set: end those of `ids` still due (`due_only`) or still submittable; return
    the ones this call ended.

    Must run inside a transaction. A token written by the same UPDATE tells which rows this
    call won (MySQL has no UPDATE ... RETURNING). `fields`: read only these of the ended attempts (all if none).
    """
    token = uuid.uuid4().hex
    attempts = Attempt.objects.with_ids(list(ids))
    qs = attempts.due(now) if due_only else attempts.submittable(now)
    if not qs.update(status=status, ended_at=now, end_token=token, **_score_expressions()):
        return []
    # The notifications of the end are built from this read (notifications.attempts_ended); without the
    # students, which only the proctors' rows need, loaded after the students' frames are out.
    return list(Attempt.objects.filter(end_token=token).only(*fields).order_by("id"))


def _make_overdue(*, ids: list[int], now: datetime) -> list[Attempt]:
    """The compare-and-set into the hand-in window: those of `ids` ongoing and due whose exam's
    policy is `hand_in` become `overdue` until deadline + the exam's hand_in_seconds.

    One UPDATE per distinct hand_in_seconds among their exams (one, in practice).
    """
    due = Attempt.objects.with_ids(ids).filter(status=AttemptStatus.ONGOING).due(now)
    windows: dict[int, list[int]] = {}
    for exam_id, seconds in Exam.objects.filter(
        at_deadline=AtDeadline.HAND_IN, pk__in=due.values("exam_id")
    ).values_list("pk", "hand_in_seconds"):
        windows.setdefault(seconds, []).append(exam_id)
    token = uuid.uuid4().hex
    changed = 0
    for seconds, exam_ids in windows.items():
        changed += due.filter(exam_id__in=exam_ids).update(
            status=AttemptStatus.OVERDUE, hand_in_until=F("deadline_at") + timedelta(seconds=seconds), end_token=token
        )
    return list(Attempt.objects.filter(end_token=token).order_by("id")) if changed else []


def _after_end(attempts: list[Attempt], *, notify: bool = True, claimed: bool = False) -> None:
    if not claimed:  # a claim took the timer key and index member already; the claimant settles its lease
        ids = [a.pk for a in attempts]
        _on_commit(lambda: _best_effort_redis("deleting timers", timers.delete_timers, ids))
    if notify:
        _on_commit(lambda: notifications.attempts_ended(attempts))


def _lateness_ms(now: datetime, missed: datetime) -> int:
    """How late (ms) an end at `now` is for an attempt that was due at `missed`."""
    return clock.to_ms(now) - clock.to_ms(missed)


def _lateness_in_sql(now: datetime) -> Expression:
    """`_lateness_ms(now, hand_in_until or deadline_at)` of each row, computed by the database."""
    missed = Coalesce(F("hand_in_until"), F("deadline_at"))
    before_us = ExpressionWrapper(Value(now, output_field=DateTimeField()) - missed, output_field=DurationField())
    # The missed instant's epoch ms, floored as clock.to_ms floors it: (now_us - before_us) div 1000.
    missed_ms = Floor((Value(clock.to_us(now)) - deadlines.Microseconds(before_us)) / Value(1000))
    return Cast(Value(clock.to_ms(now)) - missed_ms, output_field=BigIntegerField())


# What the timeouts' notifications (builders.ended_frame, notifications.ends_to_proctors) and the expiry
# engine read of a timed-out attempt: a hard close reads thousands, and a model's every field costs.
_EXPIRED_FIELDS = ("exam_id", "status", "score", "max_score", "deadline_at", "hand_in_until", "ended_at", "end_token")


def expire_attempts(
    *, attempt_ids: Iterable[int], path: str, notify: bool = True, claimed: bool = False
) -> list[Attempt]:
    """Time out those of `attempt_ids` that are ongoing and past their deadline, in one UPDATE.

    Under a `hand_in` policy a due attempt becomes `overdue` instead, and is timed out once its
    hand-in window is over. Returns the attempts this call moved on (timed out, or overdue), each
    with a `timed_out` (or `overdue`) event that records the path that caught it and how late (ms
    after the deadline, or the window's end) the UPDATE ran; the commit
    follows within milliseconds (bench/bench_expiry.py measures it from outside). With
    notify=False the caller sends `notifications.attempts_ended` itself once this returns
    (the listener does, so that its next batch commits while this one's messages go out).
    `claimed`: the ids are the listener's claims (exams/timers.py), whose Redis entries it settles.
    """
    ids = list(attempt_ids)
    if not ids:
        return []
    with transaction.atomic():
        now = clock.now()
        # Into the hand-in window first; one whose window is over already (no listener ran
        # meanwhile) is timed out by the next UPDATE, in the same transaction.
        overdue = _make_overdue(ids=ids, now=now)
        ended = _end_attempts(ids=ids, status=AttemptStatus.TIMEOUT, now=now, due_only=True, fields=_EXPIRED_FIELDS)
        ended_ids = {a.pk for a in ended}
        still_overdue = [a for a in overdue if a.pk not in ended_ids]
        AttemptEvent.objects.bulk_create(
            AttemptEvent(
                attempt=a,
                kind=EventKind.OVERDUE,
                at=now,
                path=path,
                lateness_ms=clock.to_ms(now) - clock.to_ms(a.deadline_at),
                detail={"hand_in_until": clock.iso(a.hand_in_until)},
            )
            for a in overdue
        )
        # A hard close ends thousands at once: their events are written by the database from the ended rows.
        if ended:
            insert_like(
                AttemptEvent(kind=EventKind.TIMED_OUT, at=now, path=path, detail={}),
                Attempt.objects.filter(end_token=ended[0].end_token),  # the token of all those ended
                attempt=F("pk"),
                lateness_ms=_lateness_in_sql(now),
            )
        _after_end(ended, notify=notify, claimed=claimed)
        if still_overdue:
            # The timer now runs to the end of the hand-in window (the reconciler re-arms it if this fails).
            windows = [(a.pk, clock.to_ms(a.hand_in_until)) for a in still_overdue if a.hand_in_until]
            _on_commit(lambda: _best_effort_redis("arming hand-in timers", timers.set_timers, windows))
            if notify:
                _on_commit(lambda: notifications.attempts_ended(still_overdue))
    metrics.observe_expiries(
        path,
        [clock.to_ms(now) - clock.to_ms(a.deadline_at) for a in overdue]
        + [_lateness_ms(now, a.hand_in_until or a.deadline_at) for a in ended],
    )
    return ended + still_overdue


def expire_attempt(*, attempt_id: int, path: str) -> bool:
    """Time out one attempt if it is ongoing and due; True when this call did it."""
    return bool(expire_attempts(attempt_ids=[attempt_id], path=path))


def submit_attempt(*, user: User, attempt_id: int) -> Sheet:
    """Submit the student's attempt; repeating it returns the same result (its sheet, read once it has
    ended, showing what the exam's review policy lets the student see now)."""
    attempt = get_own_attempt(user=user, attempt_id=attempt_id)
    if attempt.is_paused:
        # Frozen like the clock: the student submits once it resumes (a proctor can force submit).
        raise Conflict(PAUSED_MESSAGE + " Submit once it resumes.", code="attempt_paused")
    return _finish(attempt, kind=EventKind.SUBMITTED, detail={}, for_proctor=False)


def _proctored_attempt(*, attempt_id: int, by: User, exam_id: int | None) -> Attempt:
    if not by.is_staff:
        raise Forbidden("Only proctors (staff users) can do this.", code="not_staff")
    attempt = get_attempt(attempt_id)
    if exam_id is not None and attempt.exam_id != exam_id:
        raise ServiceError(f"Attempt {attempt_id} is not part of exam {exam_id}.", code="attempt_not_in_exam")
    return attempt


def force_submit_attempt(*, attempt_id: int, by: User, exam_id: int | None = None) -> Sheet:
    """A proctor ends an attempt now, scored as if the student had submitted."""
    attempt = _proctored_attempt(attempt_id=attempt_id, by=by, exam_id=exam_id)
    if attempt.is_paused:
        # End the pause first, so its time is recorded (the `unpaused` event) like any other.
        with transaction.atomic():
            time_control.end_pauses(Attempt.objects.filter(pk=attempt.pk).paused(), now=clock.now(), by=by)
        attempt.refresh_from_db()
    return _finish(attempt, kind=EventKind.FORCE_SUBMITTED, detail={"by": by.get_username()}, for_proctor=True)


def force_submit_attempts(*, exam_id: int, attempt_ids: list[int], by: User) -> list[int]:
    """A proctor ends many of an exam's attempts at once; returns the ids this call ended.

    One compare-and-set UPDATE ends those still live (scored as submitted, each with a
    `force_submitted` event); those already past their deadline are timed out instead, as a
    single force submit would. A bounded number of statements, whatever the count.
    """
    if not by.is_staff:
        raise Forbidden("Only proctors (staff users) can do this.", code="not_staff")
    get_exam(exam_id)
    ids = sorted(set(attempt_ids))
    outside = set(ids) - set(Attempt.objects.filter(pk__in=ids, exam_id=exam_id).values_list("pk", flat=True))
    if outside:
        # Like an unknown question in an answer: the body is well formed, what it names is not there.
        raise NotFound(f"Attempt {min(outside)} is not part of exam {exam_id}.")
    with transaction.atomic():
        now = clock.now()
        ended = _end_attempts(ids=ids, status=AttemptStatus.COMPLETED, now=now, due_only=False)
        detail = {"by": by.get_username()}
        AttemptEvent.objects.bulk_create(
            AttemptEvent(attempt=a, kind=EventKind.FORCE_SUBMITTED, at=now, detail=detail) for a in ended
        )
        _after_end(ended)
    done = {a.pk for a in ended}
    expire_attempts(attempt_ids=[i for i in ids if i not in done], path=ExpiryPath.ON_ACCESS)
    return sorted(done)


def _finish(attempt: Attempt, *, kind: str, detail: dict, for_proctor: bool) -> Sheet:
    if attempt.is_ongoing or attempt.is_overdue:
        with transaction.atomic():
            now = clock.now()
            ended = _end_attempts(ids=[attempt.pk], status=AttemptStatus.COMPLETED, now=now, due_only=False)
            if ended:
                AttemptEvent.objects.create(attempt=attempt, kind=kind, at=now, detail=detail)
                _after_end(ended)
        if not ended:
            # Past the deadline (or a racing writer won): the timeout result, on answers saved in time.
            expire_attempt(attempt_id=attempt.pk, path=ExpiryPath.ON_ACCESS)
    # Read under the row lock: an answer stored after the end re-scores under it too, so
    # the score and the per-question results agree.
    with transaction.atomic():
        fresh = Attempt.objects.select_for_update().select_related("exam").get(pk=attempt.pk)
        return attempt_sheet(fresh, review.EVERYTHING if for_proctor else review.what_student_sees(fresh, clock.now()))


def student_sheet(*, attempt: Attempt) -> Sheet:
    """The student's own attempt (from current_attempt) with what of it the review policy shows them now."""
    return attempt_sheet(attempt, review.what_student_sees(attempt, clock.now()))


# --- Time -----------------------------------------------------------------------------


def current_attempt(*, user: User, attempt_id: int) -> Attempt:
    """The student's attempt as it stands now: timed out on access once past its deadline."""
    attempt = get_own_attempt(user=user, attempt_id=attempt_id)
    if attempt.is_ongoing or attempt.is_overdue:
        if attempt.is_due(clock.now()):
            expire_attempt(attempt_id=attempt.pk, path=ExpiryPath.ON_ACCESS)
            attempt.refresh_from_db()
        else:
            _restore_timer(attempt)
    return attempt


def _restore_timer(attempt: Attempt) -> None:
    """Re-arm a live (or overdue) attempt's Redis timer if Redis lost it; a paused attempt has none (its clock
    stands still)."""
    if attempt.paused_at is None:
        _best_effort_redis("restoring a timer", timers.restore_timers, [(attempt.pk, clock.to_ms(attempt.timer_at))])


def open_attempt(*, user_id: int, attempt_id: int) -> Attempt:
    """A student's socket opening, in one query: the attempt if the user is active and owns it,
    timed out on access if it is due."""
    attempt = Attempt.objects.select_related("user").filter(pk=attempt_id).first()
    if attempt is None or attempt.user_id != user_id:
        # Rare paths: a second query tells a bad token (4401) from a wrong attempt.
        if not get_user_model().objects.filter(pk=user_id, is_active=True).exists():
            raise NotAuthenticated("The token's user is unknown or inactive.")
        if attempt is None:
            raise NotFound(f"Attempt {attempt_id} does not exist.")
        raise Forbidden("This attempt belongs to another user.", code="not_owner")
    if not attempt.user.is_active:
        raise NotAuthenticated("The token's user is unknown or inactive.")
    if attempt.is_due(clock.now()):
        return settle_attempt(attempt_id=attempt.pk)
    return attempt


def open_exam_room(*, user_id: int, exam_id: int) -> User:
    """A proctor's socket opening: the active staff user, once the exam is known to exist."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise NotAuthenticated("The token's user is unknown or inactive.")
    if not user.is_staff:
        raise Forbidden("Only proctors (staff users) can do this.", code="not_staff")
    get_exam(exam_id)
    return user


def settle_attempt(*, attempt_id: int) -> Attempt:
    """The attempt as the database holds it, timed out first if it is due (for a socket whose process heard no end)."""
    expire_attempts(attempt_ids=[attempt_id], path=ExpiryPath.ON_ACCESS)
    attempt = Attempt.objects.select_related("user").get(pk=attempt_id)
    return attempt


def student_exams(*, user: User) -> list[ExamListing]:
    """Published exams with the student's attempts, any overdue one timed out first."""
    overdue = Attempt.objects.filter(user=user).due(clock.now()).values_list("pk", flat=True)
    expire_attempts(attempt_ids=list(overdue), path=ExpiryPath.ON_ACCESS)
    return exams_for_student(user)


def extend_attempt(
    *,
    attempt_id: int,
    seconds: int,
    by: User,
    exam_id: int | None = None,
    close: str | None = None,
    reason: str = "",
) -> Attempt:
    """Grant extra time: database deadline, Redis TTL and deadline index move together.

    A grant that runs past the attempt's close is refused (`past_close`, saying by how much) unless the
    proctor chose (exams/close_choice.py): `move` moves the student's close to the new end, `keep` keeps
    it (the grant stops at the close).
    """
    attempt = _proctored_attempt(attempt_id=attempt_id, by=by, exam_id=exam_id)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 < seconds <= MAX_EXTEND_SECONDS:
        raise ServiceError(f"seconds must be a whole number from 1 to {MAX_EXTEND_SECONDS}.", code=codes.INVALID)
    close_choice.check(close)
    with transaction.atomic():
        now = clock.now()
        current = Attempt.objects.select_for_update().filter(pk=attempt_id).live(now).first()
        if current is None:
            raise Conflict("This attempt has already ended.", code="attempt_ended")
        close_at = current.close_at
        nominal = deadlines.attempt_deadline(
            current.started_at, current.allotted_seconds, current.extra_seconds + seconds, current.paused_total, None
        )
        changes: dict = {"extra_seconds": F("extra_seconds") + seconds}
        past = close_at is not None and nominal > close_at
        if past and close is None:
            raise close_choice.refusal(nominal - close_at, close_at=close_at)
        if past and close == close_choice.MOVE:
            changes["close_at"] = nominal
        # The compare-and-set: still live, and the close is the one the check above saw.
        if (
            not Attempt.objects.filter(pk=attempt_id, close_at=close_at)
            .live(now)
            .update(**deadlines.timeline_update(**changes))
        ):
            raise Conflict("The attempt changed meanwhile; retry.", code="conflict")
        attempt.refresh_from_db()
        detail: dict = {"seconds": seconds, "by": by.get_username()}
        if reason:
            detail["reason"] = reason
        if past:
            detail["close"] = close
        AttemptEvent.objects.create(attempt=attempt, kind=EventKind.EXTENDED, at=now, detail=detail)
        if past and close == close_choice.MOVE:
            AttemptEvent.objects.create(
                attempt=attempt,
                kind=EventKind.CLOSE_MOVED,
                at=now,
                detail={
                    "by": by.get_username(),
                    "reason": reason,
                    "from": clock.iso(close_at),
                    "to": clock.iso(attempt.close_at),
                    "via": "extend",
                },
            )
        try:
            if attempt.paused_at is None:  # a paused attempt has no timer until it resumes
                timers.extend_timer(attempt.pk, deadline_ms=clock.to_ms(attempt.deadline_at))
        except redis.RedisError as exc:
            raise Unavailable("The timer service (Redis) is unavailable; the time was not extended.") from exc
        _on_commit(lambda: notifications.attempt_extended(attempt, seconds))
    return attempt


@transaction.atomic
def release_review(*, exam_id: int, by: User) -> Exam:
    """A proctor opens the exam's review to its students now (exams/review.py), logged once as an ExamEvent.

    Idempotent: the first release stands; repeating it changes and logs nothing.
    """
    if not by.is_staff:
        raise Forbidden("Only proctors (staff users) can do this.", code="not_staff")
    get_exam(exam_id)
    now = clock.now()
    if Exam.objects.filter(pk=exam_id, review_released_at__isnull=True).update(review_released_at=now):
        ExamEvent.objects.create(exam_id=exam_id, kind=ExamEventKind.REVIEW_RELEASED, at=now, by=by)
        logger.info("exam %s: review released by %s", exam_id, by.get_username())
    return get_exam(exam_id)


def record_presence(*, connected: list[int], disconnected: list[int]) -> None:
    """Log sockets' first opening / last closing per attempt (from presence's transitions) and tell the proctors."""
    ids = set(Attempt.objects.filter(pk__in=connected + disconnected).values_list("pk", flat=True))
    now = clock.now()
    AttemptEvent.objects.bulk_create(
        [AttemptEvent(attempt_id=i, kind=EventKind.CONNECTED, at=now) for i in connected if i in ids]
        + [AttemptEvent(attempt_id=i, kind=EventKind.DISCONNECTED, at=now) for i in disconnected if i in ids]
    )
    # Called by a hub's presence flush or a listener's sweep, never on a request's path.
    notifications.presence_changed(connected, disconnected)
