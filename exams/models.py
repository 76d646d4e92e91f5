"""Exams, their questions, students' attempts, answers and each attempt's event log."""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from . import deadlines
from .id_lists import ids_in


class ReviewShows(models.TextChoices):
    """What a student sees of an ended attempt once the review policy allows it (exams/review.py)."""

    SCORE = "score", "Score only"
    ANSWERS = "answers", "Score and their answers"
    CORRECT = "correct", "Score, their answers and the correct answers"


class ReviewWhen(models.TextChoices):
    """When the exam's `review_shows` becomes visible; before it, the score only."""

    AT_ONCE = "at_once", "As soon as the attempt ends"
    CLOSED = "closed", "When the exam has closed (closes_at) and nobody is still sitting it"
    RELEASED = "released", "When a proctor releases it"


class AtDeadline(models.TextChoices):
    """What happens when an attempt's time runs out (exams/services.py `expire_attempts`)."""

    AUTO_SUBMIT = "auto_submit", "Submit it automatically"
    HAND_IN = "hand_in", "Lock the answers; the student must press submit within hand_in_seconds"


class LateStart(models.TextChoices):
    """Whether a student may start after the exam opened (or its scheduled start): exams/windows.py."""

    ALLOW = "allow", "Allow a start at any time the exam is open"
    UNTIL = "until", "Allow a start until late_start_minutes after the exam opens (or starts)"
    REFUSE = "refuse", "Refuse a start after the exam opens (or starts)"


class LateEnd(models.TextChoices):
    """Where an attempt started too late to fit before the close ends: exams/windows.py."""

    CLOSE = "close", "At the close (a late starter has less time)"
    FULL_TIME = "full_time", "After the full allotted time (the attempt's close moves past the exam's)"


class Exam(models.Model):
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    duration_seconds = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    published = models.BooleanField(default=False)
    max_attempts = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    opens_at = models.DateTimeField(null=True, blank=True)
    closes_at = models.DateTimeField(null=True, blank=True)
    # The review policy (exams/review.py): what a student sees after ending, and from when.
    review_shows = models.CharField(max_length=16, choices=ReviewShows.choices, default=ReviewShows.CORRECT)
    review_when = models.CharField(max_length=16, choices=ReviewWhen.choices, default=ReviewWhen.CLOSED)
    # Set once by a proctor's release (services.release_review); opens the review under any `review_when`.
    review_released_at = models.DateTimeField(null=True, blank=True, editable=False)
    # At the deadline: submitted at once, or `overdue` for hand_in_seconds (answers locked, the
    # student presses submit), then submitted by the expiry engine (Moodle's "overdue").
    # Set while a proctor has paused the whole exam (exams/time_control.py): a start meanwhile comes out paused.
    paused_at = models.DateTimeField(null=True, blank=True, editable=False)
    at_deadline = models.CharField(max_length=16, choices=AtDeadline.choices, default=AtDeadline.AUTO_SUBMIT)
    hand_in_seconds = models.PositiveIntegerField(default=0)
    # The synchronized start (exams/waiting_room.py): students wait in a room until the start.
    waiting_room = models.BooleanField(
        default=False, help_text="Students wait in a waiting room and all start at the same instant."
    )
    starts_at = models.DateTimeField(null=True, blank=True, help_text="The scheduled start (waiting room only).")
    start_code = models.CharField(
        max_length=32, blank=True, help_text="A code the proctor reads out; students enter it to start (optional)."
    )
    # The start instant every waiting student's attempt got, set once (a proctor's "start now",
    # or the scheduled `starts_at` when the first process seats students).
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The window's late-start rule (exams/windows.py).
    late_start = models.CharField(max_length=16, choices=LateStart.choices, default=LateStart.ALLOW)
    late_start_minutes = models.PositiveIntegerField(default=0)
    late_end = models.CharField(max_length=16, choices=LateEnd.choices, default=LateEnd.CLOSE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(duration_seconds__gt=0), name="exam_duration_positive"),
            models.CheckConstraint(condition=Q(max_attempts__gt=0), name="exam_max_attempts_positive"),
            models.CheckConstraint(
                condition=Q(at_deadline=AtDeadline.AUTO_SUBMIT) | Q(hand_in_seconds__gt=0),
                name="exam_hand_in_needs_seconds",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def start_instant(self) -> datetime | None:
        """Waiting room: when every clock starts (or started): the instant the start set, else the schedule."""
        return self.started_at or self.starts_at


class Enrollment(models.Model):
    """A student expected at an exam. An exam with enrollments is open to them only; one without
    any stays open to every student."""

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="enrollments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrollments")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["exam", "user"], name="enrollment_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} in exam {self.exam_id}"


class CheckIn(models.Model):
    """A student who opened an exam's waiting room, and how their start code entry went."""

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="check_ins")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    arrived_at = models.DateTimeField()
    code_accepted_at = models.DateTimeField(null=True, blank=True)
    # Wrong codes since the last lock; past the limit (contract/limits.py) entry is locked a while.
    code_failures = models.PositiveIntegerField(default=0)
    code_locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["exam", "user"], name="check_in_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} waiting for exam {self.exam_id}"


class Question(models.Model):
    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="questions")
    order = models.PositiveIntegerField(default=0)
    text = models.TextField()
    options = models.JSONField(help_text='Letter to text, e.g. {"A": "4", "B": "5"}')
    correct_option = models.CharField(max_length=8)
    points = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.exam_id}#{self.order}: {self.text[:40]}"


class AttemptStatus(models.TextChoices):
    ONGOING = "ongoing", "Ongoing"
    COMPLETED = "completed", "Completed"
    TIMEOUT = "timeout", "Timeout"
    # Past the deadline of an exam whose policy is `hand_in`: answers locked, submit still taken
    # until `hand_in_until` (+ grace), then timed out by the expiry engine.
    OVERDUE = "overdue", "Overdue (hand-in window)"


class AttemptQuerySet(models.QuerySet):
    """Attempts filtered by the deadline rule (exams/deadlines.py): `.due(now)` and `.live(now)` split `.ongoing()`."""

    def ongoing(self) -> "AttemptQuerySet":
        return self.filter(status=AttemptStatus.ONGOING)

    def with_ids(self, ids: Iterable[int]) -> "AttemptQuerySet":
        """`pk__in=ids` for thousands of ids (exams/id_lists.py)."""
        return self.filter(ids_in("pk", ids))

    def running(self) -> "AttemptQuerySet":
        """Ongoing and not paused: its clock runs (only these, and overdue ones, have a Redis timer)."""
        return self.ongoing().filter(paused_at__isnull=True)

    def paused(self) -> "AttemptQuerySet":
        """Ongoing and paused: never due, whatever its (stale) deadline says."""
        return self.ongoing().filter(paused_at__isnull=False)

    def unfinished(self) -> "AttemptQuerySet":
        """Ongoing (paused or not), or overdue (in its hand-in window): not ended yet."""
        return self.filter(status__in=[AttemptStatus.ONGOING, AttemptStatus.OVERDUE])

    def due(self, now: datetime) -> "AttemptQuerySet":
        """To be moved on by the expiry engine at `now`: running and past deadline + grace (timed out,
        or made `overdue` under a hand-in policy), or overdue and past hand_in_until + grace (timed out).
        A paused attempt is never due."""
        cutoff = deadlines.due_cutoff(now)
        return self.filter(
            Q(status=AttemptStatus.ONGOING, paused_at__isnull=True, deadline_at__lt=cutoff)
            | Q(status=AttemptStatus.OVERDUE, hand_in_until__lt=cutoff)
        )

    def submittable(self, now: datetime) -> "AttemptQuerySet":
        """May be ended by a submit at `now`: live, or overdue within its hand-in window (+ grace)."""
        cutoff = deadlines.due_cutoff(now)
        return self.filter(
            Q(status=AttemptStatus.ONGOING, paused_at__isnull=False)
            | Q(status=AttemptStatus.ONGOING, deadline_at__gte=cutoff)
            | Q(status=AttemptStatus.OVERDUE, hand_in_until__gte=cutoff)
        )

    def armed(self, now: datetime) -> list[tuple[int, datetime]]:
        """(id, instant) of each attempt the Redis mirror must hold a timer for: a running attempt's
        deadline, an overdue one's hand_in_until (both fall due by the same rule); a paused one has none."""
        return [
            row
            for attempts, instant in self.armed_parts(now)
            for row in attempts.values_list("pk", instant).iterator(chunk_size=2000)
        ]

    def armed_parts(self, now: datetime) -> list[tuple["AttemptQuerySet", str]]:
        """The attempts of `armed`, as querysets, each with the field holding their timer's instant."""
        cutoff = deadlines.due_cutoff(now)
        return [
            (self.live(now).running(), "deadline_at"),
            (self.filter(status=AttemptStatus.OVERDUE, hand_in_until__gte=cutoff), "hand_in_until"),
        ]

    def live(self, now: datetime) -> "AttemptQuerySet":
        """Ongoing and not due at `now` (paused, or running within deadline + grace): it can be submitted or
        extended; answers count unless it is paused. `due` and `live` split `ongoing`."""
        return self.ongoing().filter(Q(paused_at__isnull=False) | Q(deadline_at__gte=deadlines.due_cutoff(now)))


class Attempt(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attempts")
    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="attempts")
    # 1, 2, ... per (user, exam): unique, so two racing starts can't both create attempt n.
    number = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=16, choices=AttemptStatus.choices, default=AttemptStatus.ONGOING)
    started_at = models.DateTimeField()
    # The timeline (exams/deadlines.py): deadline_at is attempt_deadline() of the five fields below,
    # rewritten by the same UPDATE that changes any of them (deadlines.timeline_update).
    # The exam's duration x the accommodation's multiplier + its extra time, fixed at the start.
    allotted_seconds = models.PositiveIntegerField(default=0)
    # The part of allotted_seconds that is the student's accommodation (shown to them and to proctors).
    accommodation_seconds = models.PositiveIntegerField(default=0)
    # Net time granted (> 0) or taken (< 0) by proctors after the start.
    extra_seconds = models.IntegerField(default=0)
    # Completed pauses; the current one (since paused_at) is added when it ends.
    paused_total = models.DurationField(default=timedelta(0))
    paused_at = models.DateTimeField(null=True, blank=True)
    # This attempt's hard close: the exam's closes_at at the start, or the student's close override.
    close_at = models.DateTimeField(null=True, blank=True)
    # The durable truth for the clock; Redis only mirrors it.
    deadline_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    score = models.PositiveIntegerField(null=True, blank=True)
    max_score = models.PositiveIntegerField(null=True, blank=True)
    # Set when it turns `overdue`: the hand-in window's end (deadline + the exam's hand_in_seconds).
    hand_in_until = models.DateTimeField(null=True, blank=True)
    # Written by the UPDATE that ends the attempt (or makes it overdue), so that writer can tell it won.
    end_token = models.CharField(max_length=32, blank=True, db_index=True, editable=False)

    objects = AttemptQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "exam", "number"], name="attempt_unique_number"),
        ]
        indexes = [
            # The reconciler's query: ongoing attempts past their deadline.
            models.Index(fields=["status", "deadline_at"], name="attempt_status_deadline"),
            models.Index(fields=["exam", "status"], name="attempt_exam_status"),
            # The same for overdue attempts: past their hand-in window.
            models.Index(fields=["status", "hand_in_until"], name="attempt_status_hand_in"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.pk} ({self.status})"

    def save(self, *args, **kwargs) -> None:
        # A row made directly (tests, fixtures) with only a deadline: its allotted time is what it was given.
        if self._state.adding and not self.allotted_seconds and self.started_at and self.deadline_at:
            self.allotted_seconds = max(0, round((self.deadline_at - self.started_at).total_seconds()))
        super().save(*args, **kwargs)

    @property
    def is_ongoing(self) -> bool:
        return self.status == AttemptStatus.ONGOING

    @property
    def is_paused(self) -> bool:
        return self.is_ongoing and self.paused_at is not None

    @property
    def is_running(self) -> bool:
        """As `AttemptQuerySet.running`: ongoing and not paused."""
        return self.is_ongoing and self.paused_at is None

    @property
    def is_overdue(self) -> bool:
        return self.status == AttemptStatus.OVERDUE

    @property
    def timer_at(self) -> datetime:
        """The instant the Redis timer of a running or overdue attempt runs to (AttemptQuerySet.armed)."""
        if self.is_overdue and self.hand_in_until is not None:
            return self.hand_in_until
        return self.deadline_at

    def is_due(self, at: datetime) -> bool:
        """For the expiry engine at `at` (exams/deadlines.py), as `AttemptQuerySet.due`: never while paused."""
        if self.is_overdue:
            return self.hand_in_until is not None and deadlines.is_due(self.hand_in_until, at)
        return self.is_ongoing and self.paused_at is None and deadlines.is_due(self.deadline_at, at)


# An answer the student cleared ("clear my choice") stays as a row with this option and its
# time, so that an older choice processed after the clearing can't bring itself back.
CLEARED = ""


class Answer(models.Model):
    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="+")
    selected_option = models.CharField(max_length=8)  # CLEARED ("") once the student cleared it
    saved_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["attempt", "question"], name="answer_unique_per_question"),
        ]


class ExamEventKind(models.TextChoices):
    REVIEW_RELEASED = "review_released"
    # The synchronized start (exams/waiting_room.py): its instant, and a change of its settings.
    STARTED = "started"
    ROOM_CONFIGURED = "room_configured"
    EXAM_PAUSED = "exam_paused"
    EXAM_RESUMED = "exam_resumed"
    TIME_CHANGED = "time_changed"
    # A proctor recorded an incident against the whole exam (exams/incidents.py).
    INCIDENT = "incident"
    # A proctor set what happens at the deadline (exams/deadline_policy.py).
    AT_DEADLINE_SET = "at_deadline_set"


class IncidentCategory(models.TextChoices):
    """Why time was lost or granted: a pause's reason, an incident's category (issues 11, 12)."""

    ENVIRONMENT = "environment", "Environment (fire alarm, noise, power)"
    EXAMINEE = "examinee", "Examinee (illness, bathroom, late arrival)"
    TECHNICAL = "technical", "Technical (device, network, platform)"
    STAFF = "staff", "Staff (proctor or invigilator action)"
    OTHER = "other", "Other"


class ExamEvent(models.Model):
    """Append-only log of what staff did to an exam as a whole (a review's release)."""

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=24, choices=ExamEventKind.choices)
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"exam {self.exam_id} {self.kind}"


class EventKind(models.TextChoices):
    STARTED = "started"
    RESUMED = "resumed"
    ANSWER_SAVED = "answer_saved"
    EXTENDED = "extended"
    SUBMITTED = "submitted"
    FORCE_SUBMITTED = "force_submitted"
    TIMED_OUT = "timed_out"
    OVERDUE = "overdue"
    # A proctor's pause began / ended (detail: category, note, by; the end also paused_ms, the incident time).
    PAUSED = "paused"
    UNPAUSED = "unpaused"
    # Part of a time change of many attempts (detail: seconds, mode, by, reason).
    TIME_CHANGED = "time_changed"
    REOPENED = "reopened"
    # A proctor's change of the running attempt's accommodation (detail: by, reason, allotted from/to).
    ACCOMMODATION_APPLIED = "accommodation_applied"
    # The attempt's hard close moved (detail: by, reason, from, to; via: override | extend).
    CLOSE_MOVED = "close_moved"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    # A proctor recorded an incident (exams/incidents.py); detail: incident_id, category, note, by, granted_seconds.
    INCIDENT = "incident"


class ExpiryPath(models.TextChoices):
    KEYSPACE = "keyspace", "Keyspace event"
    SWEEPER = "sweeper", "Deadline sweeper"
    RECONCILER = "reconciler", "Reconciler"
    ON_ACCESS = "on_access", "On access"


class AttemptEvent(models.Model):
    """Append-only log of what happened to an attempt."""

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=24, choices=EventKind.choices)
    at = models.DateTimeField()
    # For a timeout: which path caught it and how late after the deadline it committed.
    path = models.CharField(max_length=16, choices=ExpiryPath.choices, blank=True)
    lateness_ms = models.IntegerField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["attempt", "kind"], name="event_attempt_kind")]

    def __str__(self) -> str:
        return f"{self.attempt_id} {self.kind}"


# The exam room's models live in a module of their own; imported here so Django registers them.
from .room_models import Announcement, AnnouncementAck, Incident, StudentQuestion  # noqa: E402, F401
from .time_models import Accommodation, CloseOverride  # noqa: E402, F401  (registered with the app's models)
