"""The waiting room and the synchronized start (issue 12 §1).

An exam with `waiting_room` on is not started student by student: its students open the
waiting room (a socket, `/ws/exams/<id>/wait/`), enter the start code if the exam has one,
and every student waiting at the start gets an attempt with the SAME `started_at`:

- The start instant T is the scheduled `starts_at`, or a proctor's "start now" (T = now + the
  lead, `SYNC_START_LEAD_SECONDS`), written once into `Exam.started_at` by a compare-and-set.
- Each daphne process seats the waiting students whose sockets it holds (realtime/waiting.py):
  `seat_students` creates their attempts with `started_at` = T in one INSERT ... SELECT per batch
  of students with the same terms (exams/seating_writes.py), their events likewise, arms their
  timers and deadline index in one Redis script call per thousand, and the process pushes
  each socket its attempt and questions BEFORE T; the page reveals them at T. So no clock starts
  before its questions are on the screen, and a start costs a bounded number of statements per
  process, not per student.
- A process that would seat students less than `SYNC_START_MARGIN_SECONDS` before T (it heard
  of the start late) seats them at a fresh shared instant that far ahead: they keep their full
  time. A student who opens the room after the start is a late arrival: `services.start_attempt`
  (the exam's late-start policy) decides.

Duplicates are impossible: a seating locks its students' rows (one statement, in id order) as
a student's own start does, so a second process (a second tab) or a late start waits and then
finds the attempt; attempts are also unique per (student, exam, number). Every seated student
is answered with the one attempt under way the database holds.
"""

import hmac
import json
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from . import clock, deadlines, enrollment, notifications, room, seating_writes, services, start_pause, timers, windows
from .contract.limits import START_CODE_LOCK_SECONDS, START_CODE_MAX_FAILURES
from .errors import Conflict, Forbidden, NotAuthenticated, NotFound, ServiceError, Unavailable
from .models import (
    Answer,
    Attempt,
    AttemptEvent,
    AttemptStatus,
    CheckIn,
    Enrollment,
    EventKind,
    Exam,
    ExamEvent,
    ExamEventKind,
    Question,
)
from .selectors import get_exam

logger = logging.getLogger(__name__)


def lead() -> timedelta:
    return timedelta(seconds=settings.EXAM["SYNC_START_LEAD_SECONDS"])


def margin() -> timedelta:
    return timedelta(seconds=settings.EXAM["SYNC_START_MARGIN_SECONDS"])


def has_started(exam: Exam, now: datetime) -> bool:
    """The exam's clocks have started (its start instant has passed)."""
    instant = exam.start_instant
    return instant is not None and now >= instant


# --- Who may start ------------------------------------------------------------------------------


def check_may_start(*, exam: Exam, user: User, now: datetime) -> None:
    """The waiting room's and the enrollment's rules for a student's own start (services.start_attempt):
    enrolled (if the exam has enrollments); for a waiting-room exam, started, and the code entered."""
    enrollment.check_may_sit(exam=exam, user=user)
    if not exam.waiting_room:
        return
    if not has_started(exam, now):
        raise Conflict("This exam starts for everyone at once: wait in its waiting room.", code="exam_not_started")
    if exam.start_code and not CheckIn.objects.filter(exam=exam, user=user, code_accepted_at__isnull=False).exists():
        raise Forbidden("Enter the start code your proctor reads out first.", code="start_code_required")


# --- Seating: the synchronized start --------------------------------------------------------------


@dataclass(frozen=True)
class Seating:
    """Students seated by one `seat_students` call: the attempts their screens get."""

    exam: Exam
    started_at: datetime
    questions: list[Question]
    # One per seated student: created by this call or already under way.
    attempts: list[Attempt] = field(default_factory=list)
    created: list[int] = field(default_factory=list)
    # The saved answers of attempts that were already under way: attempt id -> question id -> option.
    answers: dict[int, dict[int, str]] = field(default_factory=dict)


def _begin_scheduled(exam: Exam, now: datetime) -> None:
    """Write the scheduled start into `started_at` once it is near (the compare-and-set; the caller holds the row)."""
    if exam.started_at is not None or exam.starts_at is None or exam.starts_at > now + lead():
        return
    starts_at = exam.starts_at
    if Exam.objects.filter(pk=exam.pk, started_at__isnull=True).update(started_at=starts_at):
        exam.started_at = starts_at
        ExamEvent.objects.create(
            exam=exam,
            kind=ExamEventKind.STARTED,
            at=now,
            detail={"started_at": clock.iso(starts_at), "how": "scheduled"},
        )
        transaction.on_commit(lambda: notifications.exam_starting(exam.pk, starts_at), robust=True)


def seat_students(*, exam_id: int, user_ids: list[int]) -> Seating | None:
    """Start the attempts of waiting students at the exam's start instant, in bulk; None before the start.

    Idempotent: a student with an attempt under way is answered with it. Students not enrolled,
    without the start code, or with no attempts left are left out.
    """
    now = clock.now()
    exam = Exam.objects.filter(pk=exam_id).first()
    if exam is None or not exam.published or not exam.waiting_room:
        return None
    with transaction.atomic():
        # Its own short transaction: the exam's row is not held while students are seated.
        _begin_scheduled(exam, now)
    if exam.started_at is None or now < exam.started_at - lead() - margin():
        return None
    instant = exam.started_at if now <= exam.started_at - margin() else now + margin()
    with transaction.atomic():
        users = _eligible(exam, list(dict.fromkeys(user_ids)))
        # The students' rows, locked in one statement (in id order), as services.start_attempt locks
        # one: a student's other process, tab or late start waits, so exactly one attempt and one
        # `started` event are made; processes seating other students do not wait for each other.
        list(get_user_model().objects.select_for_update().filter(pk__in=users).order_by("pk").values_list("pk"))
        # Their attempts of this exam, one read: the number used, and any not finished (overdue in a
        # hand-in window, or paused: never a second attempt beside it), of which those live are answered.
        used: dict[int, int] = {}
        unfinished: set[int] = set()
        live_ids: list[int] = []
        for pk, user_id, status, paused_at, deadline_at in Attempt.objects.filter(
            exam=exam, user_id__in=users
        ).values_list("pk", "user_id", "status", "paused_at", "deadline_at"):
            used[user_id] = used.get(user_id, 0) + 1
            if status in (AttemptStatus.ONGOING, AttemptStatus.OVERDUE):
                unfinished.add(user_id)
            if status == AttemptStatus.ONGOING and (paused_at is not None or not deadlines.is_due(deadline_at, now)):
                live_ids.append(pk)
        ongoing = (
            {a.user_id: a for a in Attempt.objects.filter(pk__in=live_ids).select_related("user")} if live_ids else {}
        )
        fresh = [u for u in users if u not in unfinished and used.get(u, 0) < exam.max_attempts]
        # A whole-exam pause, as a single start reads it (exams/start_pause.py): seated paused from the start.
        pause = start_pause.locked_pause(exam.pk) if fresh else None
        paused_at = None if pause is None else start_pause.paused_from(pause, instant)
        created: list[Attempt] = []
        if fresh and not (exam.closes_at and exam.closes_at <= instant):
            # Each student's accommodation and close override (exams/windows.py), as a single start applies them.
            terms = windows.seat_terms(exam, fresh, instant=instant)
            detail = {"synchronized": True} if instant == exam.started_at else {"synchronized": True, "late_seat": True}
            # Students with the same terms (usually all) are written together: one INSERT ... SELECT
            # per batch for their attempts, one for their events (exams/seating_writes.py).
            groups: dict[tuple, list[int]] = {}
            for user_id in fresh:
                t = terms[user_id]
                key = (used.get(user_id, 0) + 1, t.allotted_seconds, t.close_at, json.dumps(t.detail, sort_keys=True))
                groups.setdefault(key, []).append(user_id)
            for (number, _, _, _), group in groups.items():
                t = terms[group[0]]
                template = Attempt(
                    exam=exam,
                    number=number,
                    started_at=instant,
                    allotted_seconds=t.allotted_seconds,
                    accommodation_seconds=t.accommodation_seconds,
                    close_at=t.close_at,
                    # The one deadline rule (tests/exams/test_waiting_room.py checks it against its SQL twin).
                    deadline_at=deadlines.attempt_deadline(instant, t.allotted_seconds, 0, timedelta(0), t.close_at),
                    paused_at=paused_at,
                )
                seating_writes.insert_attempts(template, group)
                event = AttemptEvent(kind=EventKind.STARTED, at=instant, detail={**detail, **t.detail})
                seating_writes.insert_events(event, exam_id=exam.pk, number=number, user_ids=group)
            created = list(
                Attempt.objects.filter(exam=exam, user_id__in=fresh, started_at=instant, status=AttemptStatus.ONGOING)
                .exclude(pk__in=[a.pk for a in ongoing.values()])
                .order_by("pk")
            )
            if pause is not None:
                start_pause.record_pauses(created, pause)  # no timers until the exam resumes
            try:
                timers.set_timers((a.pk, clock.to_ms(a.deadline_at)) for a in created if a.paused_at is None)
            except redis.RedisError as exc:
                raise Unavailable("The timer service (Redis) is unavailable; the start was not made.") from exc
            if instant != exam.started_at:
                logger.warning(
                    "exam %s: %d students seated %.3fs after the start; they start at %s instead",
                    exam.pk,
                    len(created),
                    (now - exam.started_at).total_seconds(),
                    clock.iso(instant),
                )
        questions = list(Question.objects.filter(exam=exam))
        answers = _answers([a.pk for a in ongoing.values()])
    return Seating(exam, instant, questions, [*ongoing.values(), *created], [a.pk for a in created], answers)


def _answers(attempt_ids: list[int]) -> dict[int, dict[int, str]]:
    """Saved answers of attempts under way (one query; none for fresh attempts)."""
    answers: dict[int, dict[int, str]] = {}
    if attempt_ids:
        for attempt_id, question_id, option in Answer.objects.filter(attempt_id__in=attempt_ids).values_list(
            "attempt_id", "question_id", "selected_option"
        ):
            answers.setdefault(attempt_id, {})[question_id] = option
    return answers


def _eligible(exam: Exam, user_ids: list[int]) -> list[int]:
    """Those of `user_ids` who may be seated: active, enrolled (when the exam has enrollments), code entered."""
    users = get_user_model().objects.filter(pk__in=user_ids, is_active=True)
    if enrollment.has_enrollments(exam.pk):
        users = users.filter(enrollments__exam=exam)
    if exam.start_code:
        users = users.filter(pk__in=CheckIn.objects.filter(exam=exam, code_accepted_at__isnull=False).values("user_id"))
    allowed = set(users.values_list("pk", flat=True))
    return [u for u in user_ids if u in allowed]


# --- A student in the room --------------------------------------------------------------------------


@dataclass(frozen=True)
class RoomView:
    """What a student's waiting socket is told: the room's state, and their attempt once they have one."""

    exam: Exam
    check_in: CheckIn
    user: User
    seating: Seating | None = None  # their attempt started (or was under way): the `start` frame
    refusal: ServiceError | None = None  # a late start refused (e.g. the late-start policy)
    # The exam's announcements for this student (read on connect: replayed to a late or returning student).
    announcements: list[room.SeenAnnouncement] = field(default_factory=list)

    @property
    def code_required(self) -> bool:
        return bool(self.exam.start_code)

    @property
    def code_accepted(self) -> bool:
        return not self.exam.start_code or self.check_in.code_accepted_at is not None


def open_room(*, user_id: int, exam_id: int) -> RoomView:
    """A waiting socket opening: check the student in (first time), and seat them if the start has come.

    Six queries in autocommit (a room fills with thousands of these): the user, the exam with
    its enrollment rule, the check-in (insert if new, read), the attempt under way, the announcements.
    """
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise NotAuthenticated("The token's user is unknown or inactive.")
    exam = (
        Exam.objects.filter(pk=exam_id, published=True)
        .annotate(
            has_enrollments=Exists(Enrollment.objects.filter(exam_id=OuterRef("pk"))),
            enrolled=Exists(Enrollment.objects.filter(exam_id=OuterRef("pk"), user_id=user_id)),
        )
        .first()
    )
    if exam is None:
        raise NotFound(f"Exam {exam_id} does not exist or is not published.")
    if not exam.waiting_room:
        raise NotFound(f"Exam {exam_id} has no waiting room: start it directly.", code="no_waiting_room")
    if exam.has_enrollments and not exam.enrolled:
        raise Forbidden("You are not enrolled in this exam.", code="not_enrolled")
    # A reconnect finds its row; a racing tab's insert is no error.
    CheckIn.objects.bulk_create([CheckIn(exam=exam, user=user, arrived_at=clock.now())], ignore_conflicts=True)
    check_in = CheckIn.objects.get(exam=exam, user=user)
    view = _view(exam, user, check_in)
    if view.seating is not None:
        return view  # the attempt's own socket replays them
    return replace(view, announcements=room.student_announcements(exam_id=exam.pk, user_id=user.pk))


def _view(exam: Exam, user: User, check_in: CheckIn) -> RoomView:
    now = clock.now()
    view = RoomView(exam, check_in, user)
    under_way = Attempt.objects.filter(exam=exam, user=user).live(now).select_related("user").first()
    if under_way is not None:
        return RoomView(exam, check_in, user, seating=_seating_of(exam, under_way))
    instant = exam.start_instant
    if not view.code_accepted or instant is None or now < instant - lead():
        return view
    if now < instant - margin():
        # Opened within the lead: seated at the shared instant like everyone waiting.
        seating = seat_students(exam_id=exam.pk, user_ids=[user.pk])
        if seating is not None and seating.attempts:
            return RoomView(exam, check_in, user, seating=seating)
        return view
    # A late arrival: the exam's late-start policy decides (services.start_attempt).
    try:
        result = services.start_attempt(user=user, exam_id=exam.pk)
    except Unavailable:
        raise
    except ServiceError as exc:
        return RoomView(exam, check_in, user, refusal=exc)
    attempt = Attempt.objects.select_related("user").get(pk=result.attempt.pk)
    return RoomView(exam, check_in, user, seating=_seating_of(exam, attempt))


def _seating_of(exam: Exam, attempt: Attempt) -> Seating:
    """One student's attempt under way (or just started late), as a seating of one."""
    questions = list(Question.objects.filter(exam=exam))
    return Seating(exam, attempt.started_at, questions, [attempt], [], _answers([attempt.pk]))


def enter_start_code(*, user: User, exam_id: int, code: str) -> RoomView:
    """Check a start code; at most START_CODE_MAX_FAILURES wrong ones, then entry is locked a while.

    Every try is counted in the database (so every process and tab agrees) before the answer.
    """
    exam = get_exam(exam_id)
    now = clock.now()
    with transaction.atomic():
        check_in, _ = CheckIn.objects.select_for_update().get_or_create(
            exam=exam, user=user, defaults={"arrived_at": now}
        )
        locked = check_in.code_locked_until
        if locked is not None and locked > now:
            wait = max(1, int((locked - now).total_seconds() + 0.999))
            raise ServiceError(f"Too many wrong codes: try again in {wait} s.", code="start_code_locked", status=429)
        right = not exam.start_code or hmac.compare_digest(_normal(code), _normal(exam.start_code))
        if right:
            if check_in.code_accepted_at is None:
                check_in.code_accepted_at = now
            check_in.code_failures, check_in.code_locked_until = 0, None
        else:
            check_in.code_failures += 1
            if check_in.code_failures >= START_CODE_MAX_FAILURES:
                check_in.code_failures, check_in.code_locked_until = 0, now + timedelta(seconds=START_CODE_LOCK_SECONDS)
        check_in.save(update_fields=["code_accepted_at", "code_failures", "code_locked_until"])
    if not right:
        # Raised after the commit: the failure must count.
        if check_in.code_locked_until is not None:
            raise ServiceError(
                f"That is not the start code. Too many wrong codes: try again in {START_CODE_LOCK_SECONDS} s.",
                code="start_code_locked",
                status=429,
            )
        left = START_CODE_MAX_FAILURES - check_in.code_failures
        raise ServiceError(
            f"That is not the start code ({left} {'try' if left == 1 else 'tries'} left before a pause).",
            code="wrong_start_code",
        )
    return _view(exam, user, check_in)


def _normal(code: str) -> str:
    """Codes compare without case or spaces: "ab 12" is "AB12"."""
    return "".join(code.split()).upper()


def room_view(*, user: User, exam_id: int) -> RoomView:
    """The room's state for a socket that is waiting (after a change of schedule, or a missed start)."""
    exam = get_exam(exam_id)
    check_in, _ = CheckIn.objects.get_or_create(exam=exam, user=user, defaults={"arrived_at": clock.now()})
    return _view(exam, user, check_in)


# --- Proctors -----------------------------------------------------------------------------------------


def _proctored_room(exam_id: int, by: User) -> Exam:
    if not by.is_staff:
        raise Forbidden("Only proctors (staff users) can do this.", code="not_staff")
    exam = get_exam(exam_id)
    if not exam.waiting_room:
        raise Conflict("This exam has no waiting room: its students start on their own.", code="no_waiting_room")
    return exam


@transaction.atomic
def start_now(*, exam_id: int, by: User) -> Exam:
    """A proctor starts the exam: every waiting student's clock starts at now + the lead (one compare-and-set)."""
    exam = _proctored_room(exam_id, by)
    if not exam.published:
        raise ServiceError("This exam is not published.", code="exam_not_published")
    now = clock.now()
    instant = now + lead()
    started = (
        Exam.objects.filter(pk=exam_id, started_at__isnull=True)
        .filter(Q(starts_at__isnull=True) | Q(starts_at__gt=instant))
        .update(started_at=instant)
    )
    if not started:
        raise Conflict("This exam has already started.", code="exam_already_started")
    ExamEvent.objects.create(
        exam=exam,
        kind=ExamEventKind.STARTED,
        at=now,
        by=by,
        detail={"started_at": clock.iso(instant), "how": "start_now", "by": by.get_username()},
    )
    logger.info("exam %s: started by %s at %s", exam_id, by.get_username(), clock.iso(instant))
    transaction.on_commit(lambda: notifications.exam_starting(exam_id, instant), robust=True)
    return get_exam(exam_id)


@transaction.atomic
def configure_room(*, exam_id: int, by: User, waiting_room: bool, starts_at: datetime | None, start_code: str) -> Exam:
    """A proctor sets the waiting room, the scheduled start and the start code, until the exam has started."""
    if not by.is_staff:
        raise Forbidden("Only proctors (staff users) can do this.", code="not_staff")
    exam = get_exam(exam_id)
    now = clock.now()
    if has_started(exam, now) or exam.started_at is not None:
        raise Conflict("This exam has already started; its start can't change.", code="exam_already_started")
    if starts_at is not None and starts_at <= now + lead():
        raise Conflict(
            f"starts_at must be more than {lead().total_seconds():g} s ahead (or use start now).", code="start_too_soon"
        )
    changed = Exam.objects.filter(pk=exam_id, started_at__isnull=True).update(
        waiting_room=waiting_room, starts_at=starts_at, start_code=start_code.strip()
    )
    if not changed:
        raise Conflict("This exam has already started; its start can't change.", code="exam_already_started")
    ExamEvent.objects.create(
        exam=exam,
        kind=ExamEventKind.ROOM_CONFIGURED,
        at=now,
        by=by,
        detail={
            "waiting_room": waiting_room,
            "starts_at": clock.iso(starts_at),
            "start_code": bool(start_code.strip()),
        },
    )
    transaction.on_commit(lambda: notifications.room_changed(exam_id), robust=True)
    return get_exam(exam_id)


@dataclass(frozen=True)
class RoomSummary:
    """A proctor's view of the waiting room: who is there, who is expected."""

    exam: Exam
    checked_in: int  # opened the room and have no attempt yet
    ready: int  # of those, with the start code entered (all of them when there is no code)
    started: int  # students with an attempt
    enrolled: int


def room_summary(*, exam_id: int) -> RoomSummary:
    exam = get_exam(exam_id)
    started_users = Attempt.objects.filter(exam=exam).values("user_id")
    waiting = CheckIn.objects.filter(exam=exam).exclude(user_id__in=started_users)
    ready = waiting.filter(code_accepted_at__isnull=False) if exam.start_code else waiting
    return RoomSummary(
        exam,
        waiting.count(),
        ready.count(),
        Attempt.objects.filter(exam=exam).values("user_id").distinct().count(),
        exam.enrollments.count(),
    )
