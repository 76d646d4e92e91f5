"""Declarations of the REST API's bodies: what each request takes and each response holds.

Views validate requests with these and name them in `@extend_schema`, so the OpenAPI schema
(/api/schema/) and docs/api.md are generated from them; the tests check every body they
receive against them (tests/support/contract_check.py). The builders (builders.py) make the
bodies; a field added there and not here fails the tests.
"""

from decimal import Decimal

from rest_framework import serializers

from exams import close_choice as close_choices
from exams.models import AtDeadline, IncidentCategory, LateEnd, LateStart, ReviewShows, ReviewWhen
from exams.review import WAITS_FOR

from .codes import ERRORS
from .fields import Flag, Id, Text, Timestamp, option
from .limits import (
    MAX_ACCOMMODATION_EXTRA_SECONDS,
    MAX_ANNOUNCEMENT_LENGTH,
    MAX_BULK_ATTEMPTS,
    MAX_CHANGE_AMOUNT,
    MAX_ENROLL_USERNAMES,
    MAX_EXTEND_SECONDS,
    MAX_HAND_IN_SECONDS,
    MAX_INCIDENT_NOTE_LENGTH,
    MAX_MULTIPLIER,
    MAX_NOTE_LENGTH,
    MAX_QUESTION_ANSWER_LENGTH,
    MAX_REASON_LENGTH,
    MAX_REOPEN_MINUTES,
    MAX_START_CODE_LENGTH,
    MAX_STUDENT_QUESTION_LENGTH,
    MAX_USERNAME_LENGTH,
    MIN_MULTIPLIER,
)

STATUSES = ["ongoing", "overdue", "completed", "timeout"]
HAND_IN_UNTIL_HELP = (
    "Only while `status` is `overdue` (the exam's `at_deadline` is `hand_in`): time is up and the answers "
    "are locked, but the student may still submit until this instant; then it is submitted for them."
)
ENDED_BY = ["student", "proctor", "time"]
ENDED_BY_HELP = (
    "Who ended it: `student` (submitted), `proctor` (force-submitted) or `time` (ran out); null until it has ended."
)


# --- Requests ---------------------------------------------------------------------------


class AnswerFields(serializers.Serializer):
    question_id = Id()
    selected_option = option(allow_null=True, help_text="The chosen option's key; null clears the question's answer.")


class SubmitAnswerRequest(AnswerFields):
    attempt_id = Id()


CLOSE_HELP = (
    "Only needed when the new end runs past a hard close (else refused with `past_close`, whose message says "
    "by how many minutes): `move` moves that close to the new end, `keep` keeps the close (the time stops at it)."
)


def close_choice(help_text: str = CLOSE_HELP, **kwargs) -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=list(close_choices.CHOICES), required=False, help_text=help_text, **kwargs)


class ExtendRequest(serializers.Serializer):
    seconds = Id(max_value=MAX_EXTEND_SECONDS, help_text="Extra time to grant, in whole seconds.")
    close = close_choice()
    reason = Text(required=False, max_length=MAX_REASON_LENGTH, help_text="Why (the attempt's audit log).")


class BulkRequest(serializers.Serializer):
    attempt_ids = serializers.ListField(
        child=Id(),
        min_length=1,
        max_length=MAX_BULK_ATTEMPTS,
        help_text="Attempts of the exam the path names (repeats count once).",
    )


class RoomRequest(serializers.Serializer):
    """The waiting room's settings (until the exam has started)."""

    waiting_room = serializers.BooleanField(help_text="Students wait in a waiting room and start at the same instant.")
    starts_at = Timestamp(allow_null=True, help_text="The scheduled start; null: a proctor starts it (start now).")
    start_code = Text(
        allow_blank=True,
        max_length=MAX_START_CODE_LENGTH,
        help_text="A code students must enter to start (case and spaces ignored); empty: none.",
    )


class AtDeadlineRequest(serializers.Serializer):
    """What happens when the exam's attempts run out of time; it applies to every attempt not yet out of time."""

    at_deadline = serializers.ChoiceField(
        choices=AtDeadline.choices,
        help_text="`auto_submit` (submitted at once) or `hand_in` (answers locked; the student submits within "
        "`hand_in_seconds`, then it is submitted for them).",
    )
    hand_in_seconds = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_HAND_IN_SECONDS,
        help_text="The hand-in window: 1 or more under `hand_in`; absent or 0 under `auto_submit` "
        "(`hand_in_window` otherwise).",
    )


class UsernamesRequest(serializers.Serializer):
    usernames = serializers.ListField(
        child=Text(max_length=MAX_USERNAME_LENGTH), min_length=1, max_length=MAX_ENROLL_USERNAMES
    )


def attempt_selection(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=Id(), required=False, min_length=1, max_length=MAX_BULK_ATTEMPTS, help_text=help_text
    )


class PauseRequest(serializers.Serializer):
    category = serializers.ChoiceField(
        choices=IncidentCategory.choices, help_text="Why: `environment`, `examinee`, `technical`, `staff` or `other`."
    )
    note = Text(required=False, allow_blank=True, max_length=MAX_NOTE_LENGTH, help_text="Shown to the students.")
    attempt_ids = attempt_selection(
        "The attempts to pause (one or a selection). Absent: the whole exam (its running attempts, and any start "
        "until it resumes comes out paused)."
    )


class ResumeRequest(serializers.Serializer):
    attempt_ids = attempt_selection("The paused attempts to resume. Absent: the whole exam.")
    close = close_choice(
        "The whole exam only: `move` (the default) moves the exam's close and its attempts' closes by the paused "
        "time; `keep` keeps them.",
        default=close_choices.MOVE,
    )


class TimeChangeRequest(serializers.Serializer):
    unit = serializers.ChoiceField(
        choices=["minutes", "percent"],
        help_text="`minutes`: the same for everyone; `percent`: of each attempt's allotted time, so each "
        "accommodation keeps its ratio.",
    )
    amount = serializers.IntegerField(
        min_value=-MAX_CHANGE_AMOUNT,
        max_value=MAX_CHANGE_AMOUNT,
        help_text="How many minutes (or percent) to add; negative takes time away (never below a minute "
        "left: `too_short`); 0 changes nothing (`nothing_to_change`).",
    )
    attempt_ids = attempt_selection("The attempts to change. Absent: every ongoing attempt of the exam.")
    reason = Text(required=False, allow_blank=True, max_length=MAX_NOTE_LENGTH)
    close = close_choice()


class ReopenRequest(serializers.Serializer):
    minutes = Id(max_value=MAX_REOPEN_MINUTES, help_text="The attempt's new end is this many minutes from now.")
    reason = Text(max_length=MAX_NOTE_LENGTH, help_text="Why (logged with who reopened it).")
    close = close_choice()


class LoginRequest(serializers.Serializer):
    username = Text()
    password = Text()


class RefreshRequest(serializers.Serializer):
    refresh = Text()


# --- Responses ----------------------------------------------------------------------------


class Tokens(serializers.Serializer):
    access = Text(help_text="A JWT for `Authorization: Bearer` and the sockets' `?token=`.")
    refresh = Text()


class AccessToken(serializers.Serializer):
    access = Text()


class Me(serializers.Serializer):
    id = Id()
    username = Text()
    is_staff = serializers.BooleanField(help_text="A proctor.")


class Timer(serializers.Serializer):
    attempt_id = Id()
    status = serializers.ChoiceField(choices=STATUSES)
    remaining_seconds = serializers.IntegerField(min_value=0, help_text="Whole seconds left; 0 once ended.")
    deadline = Timestamp(help_text="When the attempt's time runs out.")
    server_time = Timestamp(help_text="The server's clock when this was made.")
    hand_in_until = Timestamp(required=False, help_text=HAND_IN_UNTIL_HELP)
    paused_at = Timestamp(
        required=False,
        help_text="Only while a proctor has paused the attempt: its clock stands still, answers and the student's "
        "submit are refused (`attempt_paused`); `deadline` is the one it would have if it resumed now (it moves "
        "with the clock, ticks keep coming), so `remaining_seconds` stays what was left at the pause.",
    )


class Allowance(serializers.Serializer):
    """An attempt's time, as the student and proctors are shown it ("your time: 90 min including 30 min extra time")."""

    allotted_seconds = serializers.IntegerField(
        min_value=0,
        help_text="Fixed at the start: the exam's duration x the accommodation's multiplier + its extra time.",
    )
    accommodation_seconds = serializers.IntegerField(
        min_value=0, help_text="The part of `allotted_seconds` that is the student's accommodation (0: none)."
    )
    granted_seconds = serializers.IntegerField(help_text="Net time proctors granted (> 0) or took (< 0) since.")
    paused_seconds = serializers.IntegerField(min_value=0, help_text="Time paused so far (it moves the end).")
    close_at = Timestamp(allow_null=True, help_text="This attempt's hard close (the exam's or the student's own).")


class Start(Timer):
    exam_id = Id()
    duration_seconds = serializers.IntegerField()
    allowance = Allowance()
    resumed = serializers.BooleanField(help_text="True when an ongoing attempt was resumed (200), false for a new one.")


class Extension(Timer):
    added_seconds = Id(help_text="The extra time just granted.")


class AnswerSaved(serializers.Serializer):
    attempt_id = Id()
    question_id = Id()
    selected_option = Text(allow_null=True, help_text="The saved choice; null: the answer was cleared.")
    saved_at = Timestamp(help_text="When the server received the answer (the time it counts by).")


REVIEW_SHOWS = ReviewShows.choices
ANSWERS_SHOWN = "Only when `review.shows` is `answers` or `correct`."
CORRECT_SHOWN = "Only when `review.shows` is `correct`."


class ResultRow(serializers.Serializer):
    question_id = Id()
    points = serializers.IntegerField()
    selected_option = Text(required=False, allow_null=True, help_text=f"The answer (null: none). {ANSWERS_SHOWN}")
    correct_option = Text(required=False, help_text=CORRECT_SHOWN)
    is_correct = serializers.BooleanField(required=False, help_text=CORRECT_SHOWN)


class Review(serializers.Serializer):
    """What a result shows of the attempt under the exam's review policy (a proctor's: everything)."""

    shows = serializers.ChoiceField(
        choices=REVIEW_SHOWS, help_text="`score`, `answers` (the student's) or `correct` (and the correct ones)."
    )
    later = serializers.ChoiceField(
        choices=REVIEW_SHOWS, required=False, help_text="What it will show once `waits_for` happens; absent: no more."
    )
    waits_for = serializers.ChoiceField(
        choices=WAITS_FOR,
        required=False,
        help_text="`exam_closed` (closes_at passed and nobody still sitting), `release` (by a proctor) "
        "or `last_attempt` (the student's attempts used up, or the exam closed).",
    )


class Result(serializers.Serializer):
    attempt_id = Id()
    status = serializers.ChoiceField(choices=STATUSES)
    score = serializers.IntegerField()
    max_score = serializers.IntegerField()
    percentage = serializers.FloatField()
    answered = serializers.IntegerField()
    total_questions = serializers.IntegerField()
    results = ResultRow(many=True)
    review = Review()
    ended_by = serializers.ChoiceField(choices=ENDED_BY, allow_null=True, help_text=ENDED_BY_HELP)


class Question(serializers.Serializer):
    id = Id()
    text = Text()
    options = serializers.DictField(child=Text(), help_text="Option key -> option text.")
    points = serializers.IntegerField()
    selected_option = Text(
        required=False,
        allow_null=True,
        help_text="The saved answer (null: none). Once the attempt has ended, only if the review policy shows answers.",
    )
    correct_option = Text(required=False, help_text="Only once the review policy shows correct answers.")


class Questions(Timer):
    exam_id = Id()
    exam_title = Text()
    allowance = Allowance()
    questions = Question(many=True)


class ReviewPolicy(serializers.Serializer):
    """What the exam's students see of an ended attempt, and when (the score always, at once)."""

    shows = serializers.ChoiceField(choices=REVIEW_SHOWS, help_text="What they see once `when` has come.")
    when = serializers.ChoiceField(
        choices=ReviewWhen.choices,
        help_text="`at_once`, `closed` (closes_at passed and nobody still sitting; never without closes_at) "
        "or `released` (by a proctor). A release opens it under any `when`; correct answers wait until "
        "the student can't sit the exam again.",
    )
    released_at = Timestamp(allow_null=True, help_text="When a proctor released the review.")


class ExamSummary(serializers.Serializer):
    id = Id()
    title = Text()
    description = Text(allow_blank=True)
    duration_seconds = serializers.IntegerField()
    max_attempts = serializers.IntegerField()
    opens_at = Timestamp(allow_null=True)
    closes_at = Timestamp(allow_null=True)
    total_questions = serializers.IntegerField()
    review_policy = ReviewPolicy()
    paused_at = Timestamp(
        allow_null=True, help_text="Set while a proctor has paused the whole exam: a start comes out paused."
    )
    at_deadline = serializers.ChoiceField(
        choices=AtDeadline.choices,
        help_text="When time runs out: `auto_submit` (submitted at once) or `hand_in` (answers locked, the "
        "student submits within `hand_in_seconds`, then it is submitted for them).",
    )
    hand_in_seconds = serializers.IntegerField(min_value=0, help_text="The hand-in window (0 under `auto_submit`).")
    waiting_room = serializers.BooleanField(
        help_text="Students start together from the waiting room (`/ws/exams/<id>/wait/`), not with POST start."
    )
    starts_at = Timestamp(
        allow_null=True, help_text="Waiting room: when every clock starts (scheduled or given); null: not yet known."
    )
    late_start = serializers.ChoiceField(
        choices=LateStart.choices,
        help_text="`allow` a start any time the exam is open, `until` late_start_minutes after it opens (or its "
        "scheduled start), or `refuse` one after that instant (`late_start_refused`). A student with a close "
        "override is not held to it.",
    )
    late_start_minutes = serializers.IntegerField(min_value=0)
    late_end = serializers.ChoiceField(
        choices=LateEnd.choices,
        help_text="A start too late to fit before the close: ends at the `close`, or gets `full_time` (no close).",
    )


class OwnAttempt(Timer):
    number = serializers.IntegerField(help_text="1 for the student's first attempt at the exam.")
    score = serializers.IntegerField(allow_null=True, help_text="Null while ongoing.")
    max_score = serializers.IntegerField(allow_null=True)
    ended_by = serializers.ChoiceField(choices=ENDED_BY, allow_null=True, help_text=ENDED_BY_HELP)


class StudentExam(ExamSummary):
    attempts = OwnAttempt(many=True)
    allotted_seconds = serializers.IntegerField(
        help_text="The time an attempt started now gets: the duration x the student's accommodation."
    )
    accommodation_seconds = serializers.IntegerField(help_text="The part of it that is the accommodation (0: none).")
    student_close_at = Timestamp(
        allow_null=True, help_text="The student's close: their own close override, else `closes_at`."
    )


class StudentExams(serializers.Serializer):
    exams = StudentExam(many=True)


class ProctorExam(ExamSummary):
    published = serializers.BooleanField()
    ongoing = serializers.IntegerField(help_text="Attempts in progress.")


class ProctorExams(serializers.Serializer):
    exams = ProctorExam(many=True)


class ProctorRow(Timer):
    """An attempt as a proctor sees it (REST, the snapshot and every proctor event)."""

    exam_id = Id()
    student = Text(help_text="The student's username.")
    answered = serializers.IntegerField()
    total_questions = serializers.IntegerField()
    connected = serializers.BooleanField(help_text="A socket of the student's is open.")
    started_at = Timestamp()
    ended_at = Timestamp(allow_null=True)
    extra_seconds = serializers.IntegerField(help_text="Net extra time granted (< 0: taken) by proctors so far.")
    allotted_seconds = serializers.IntegerField(help_text="The time allotted at the start, its accommodation included.")
    accommodation_seconds = serializers.IntegerField(help_text="Of which the accommodation (> 0: the student has one).")
    close_at = Timestamp(allow_null=True, help_text="The attempt's hard close.")
    score = serializers.IntegerField(allow_null=True)
    max_score = serializers.IntegerField(allow_null=True)
    last_activity = Timestamp(help_text="The last answer, or the start.")
    last_answer_at = Timestamp(allow_null=True, help_text="When the last answer was saved; null before the first.")


class AtDeadlineSettings(serializers.Serializer):
    """An exam's rule at the deadline, as set."""

    exam_id = Id()
    at_deadline = serializers.ChoiceField(choices=AtDeadline.choices)
    hand_in_seconds = serializers.IntegerField(min_value=0, help_text="The hand-in window (0 under `auto_submit`).")


class WaitingRoom(serializers.Serializer):
    """An exam's waiting room as a proctor sees it."""

    exam_id = Id()
    title = Text()
    waiting_room = serializers.BooleanField()
    scheduled_at = Timestamp(allow_null=True, help_text="The scheduled start (`starts_at` of the settings).")
    started_at = Timestamp(allow_null=True, help_text="The start instant every waiting student got, once set.")
    start_code = Text(allow_blank=True, help_text="The code to read out; empty: none.")
    checked_in = serializers.IntegerField(help_text="Students who opened the waiting room and have not started.")
    ready = serializers.IntegerField(help_text="Of those, with the start code entered (all of them without a code).")
    started = serializers.IntegerField(help_text="Students with an attempt.")
    enrolled = serializers.IntegerField(help_text="Enrolled students (0: the exam is open to every student).")
    server_time = Timestamp()


class EnrollmentChange(serializers.Serializer):
    exam_id = Id()
    changed = serializers.ListField(child=Text(), help_text="Usernames added (or removed).")
    unchanged = serializers.ListField(child=Text(), help_text="Usernames already enrolled (or not enrolled).")
    enrolled = serializers.IntegerField(help_text="Enrolled students now.")


ROSTER_STATES = ["not_started", "waiting", *STATUSES]


class RosterRow(serializers.Serializer):
    student = Text(help_text="The username.")
    user_id = Id()
    enrolled_at = Timestamp()
    state = serializers.ChoiceField(
        choices=ROSTER_STATES,
        help_text="`not_started`, `waiting` (in the waiting room), or the status of the latest attempt.",
    )


class Roster(serializers.Serializer):
    """An exam's enrolled students; those not started are the dashboard's list."""

    exam_id = Id()
    enrolled = serializers.IntegerField()
    not_started = serializers.IntegerField(help_text="Enrolled students with no attempt (`not_started` or `waiting`).")
    students = RosterRow(many=True)


class TimeControl(serializers.Serializer):
    """What a pause, a resume or a time change did."""

    exam_id = Id()
    changed = serializers.IntegerField(min_value=0, help_text="How many attempts it changed.")
    attempt_ids = serializers.ListField(child=Id(), help_text="Those attempts.")
    exam_paused_at = Timestamp(allow_null=True, help_text="Set while the whole exam is paused.")
    closes_at = Timestamp(allow_null=True, help_text="The exam's close, after any move.")
    server_time = Timestamp()


class Reopened(Timer):
    """A reopened attempt's new clock."""

    added_seconds = serializers.IntegerField(help_text="Net time granted to reach the new end (may be negative).")


class ExamRoom(serializers.Serializer):
    exam_id = Id()
    attempts = ProctorRow(many=True)


class HistoryLine(serializers.Serializer):
    at = Timestamp()
    kind = Text(help_text="What happened to the attempt (its event log's kind: started, answer_saved, extended, ...).")
    attempt_id = Id()
    student = Text(help_text="The student's username.")


class ExamHistory(serializers.Serializer):
    """The newest events of an exam's attempts, oldest first: what the dashboard shows from before it opened."""

    exam_id = Id()
    events = HistoryLine(many=True)


class BulkForceSubmitted(ExamRoom):
    """The attempts a bulk force submit was given, as they are now."""

    submitted = serializers.ListField(child=Id(), help_text="The attempts this call ended (others had ended).")


# --- The exam room: announcements, students' questions, incidents (issue 12 §2, §3) ------------

ANNOUNCEMENT_TO = ["exam", "student"]


class AnnounceRequest(serializers.Serializer):
    message = Text(max_length=MAX_ANNOUNCEMENT_LENGTH, help_text="Shown to the students until they acknowledge it.")
    attempt_id = Id(
        required=False,
        help_text="To this attempt's student only, on all their attempts at the exam (else: the whole exam).",
    )
    user_id = Id(
        required=False,
        help_text="To this student only, before they have an attempt (enrolled, or in the waiting room): "
        "it reaches their waiting room at once, and their attempts later. Not with attempt_id.",
    )

    # Fields a body may not hold together (the document says so: schema.fields_not_together).
    not_together = ("attempt_id", "user_id")


class AcknowledgeRequest(serializers.Serializer):
    announcement_id = Id()


class AskRequest(serializers.Serializer):
    text = Text(max_length=MAX_STUDENT_QUESTION_LENGTH, help_text="The student's question to the proctors.")


class AnswerQuestionRequest(serializers.Serializer):
    text = Text(max_length=MAX_QUESTION_ANSWER_LENGTH, help_text="The answer, shown under the question.")


class IncidentRequest(serializers.Serializer):
    category = serializers.ChoiceField(choices=IncidentCategory.choices)
    note = Text(max_length=MAX_INCIDENT_NOTE_LENGTH)
    attempt_id = Id(required=False, help_text="Against this attempt (else: the whole exam).")
    granted_seconds = Id(
        min_value=0,
        max_value=MAX_EXTEND_SECONDS,
        required=False,
        help_text="Time granted with it: the attempt (or every attempt of the exam in progress) is extended.",
    )


class StudentAnnouncement(serializers.Serializer):
    """An announcement as its student sees it."""

    id = Id()
    exam_id = Id()
    message = Text()
    to = serializers.ChoiceField(choices=ANNOUNCEMENT_TO, help_text="`exam`: everyone; `student`: only you.")
    sent_at = Timestamp()
    by = Text(allow_null=True, help_text="The proctor's username (null: the account is gone).")
    acknowledged_at = Timestamp(allow_null=True, help_text="When you acknowledged it; null: show it until you do.")


class Acknowledged(serializers.Serializer):
    announcement_id = Id()
    acknowledged_at = Timestamp(help_text="The first acknowledgement's time (repeats change nothing).")


class RoomQuestion(serializers.Serializer):
    """A student's question and its answer (null until a proctor answers)."""

    id = Id()
    attempt_id = Id()
    text = Text()
    asked_at = Timestamp()
    answer = Text(allow_null=True)
    answered_at = Timestamp(allow_null=True)


class StudentRoom(serializers.Serializer):
    """What a student is told on every connect: the announcements for them and their question thread."""

    attempt_id = Id()
    announcements = StudentAnnouncement(many=True)
    questions = RoomQuestion(many=True)


class ProctorRoomQuestion(RoomQuestion):
    student = Text(help_text="The asking student's username.")
    answered_by = Text(allow_null=True, help_text="The answering proctor's username.")


class AnnouncementAckRow(serializers.Serializer):
    user_id = Id()
    student = Text(help_text="The student's username.")
    acknowledged_at = Timestamp()


class ProctorAnnouncement(serializers.Serializer):
    """An announcement with who has acknowledged it."""

    id = Id()
    exam_id = Id()
    message = Text()
    to = serializers.ChoiceField(choices=ANNOUNCEMENT_TO)
    student = Text(allow_null=True, help_text="The one student it is for (`to` is `student`).")
    sent_at = Timestamp()
    by = Text(allow_null=True)
    recipients = serializers.IntegerField(
        min_value=0, help_text="Students it is for: 1, or those with an attempt at the exam when this was made."
    )
    acks = AnnouncementAckRow(many=True)


class IncidentRecord(serializers.Serializer):
    id = Id()
    exam_id = Id()
    attempt_id = Id(allow_null=True, help_text="Null: recorded against the whole exam.")
    student = Text(allow_null=True)
    category = serializers.ChoiceField(choices=IncidentCategory.choices)
    note = Text()
    granted_seconds = serializers.IntegerField(min_value=0)
    recorded_at = Timestamp()
    by = Text(allow_null=True)


class Incidents(serializers.Serializer):
    exam_id = Id()
    incidents = IncidentRecord(many=True)


class ProctorRoom(serializers.Serializer):
    """What a proctor is told on every connect: announcements with acknowledgements, questions, incidents."""

    exam_id = Id()
    announcements = ProctorAnnouncement(many=True)
    questions = ProctorRoomQuestion(many=True)
    incidents = IncidentRecord(many=True)


# --- Time rules: accommodations and close overrides (exams/time_rules.py) ---------------------


def _multiplier(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=None,
        decimal_places=None,
        min_value=Decimal(MIN_MULTIPLIER),
        max_value=Decimal(MAX_MULTIPLIER),
        coerce_to_string=False,
        help_text="The exam's duration is multiplied by this (1.5: 50% more time); kept to two decimals "
        "(rounded half up).",
        **kwargs,
    )


def _extra(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=0, max_value=MAX_ACCOMMODATION_EXTRA_SECONDS, help_text="Added after the multiplier.", **kwargs
    )


APPLY_HELP = (
    "Also change the student's running attempt(s) at once (pushed as `time_changed`). Without it a "
    "change applies from the next start only; `not_applied` counts the running attempts left as they were."
)


class AccommodationRequest(serializers.Serializer):
    username = Text(help_text="The student.")
    exam_id = Id(required=False, allow_null=True, help_text="One exam; absent or null: all the student's exams.")
    multiplier = _multiplier(required=False)
    extra_seconds = _extra(required=False)
    reason = Text(visible=True, max_length=MAX_REASON_LENGTH)
    apply_to_running = Flag(required=False, help_text=APPLY_HELP)


class AccommodationPatch(serializers.Serializer):
    multiplier = _multiplier(required=False)
    extra_seconds = _extra(required=False)
    reason = Text(visible=True, required=False, max_length=MAX_REASON_LENGTH)
    apply_to_running = Flag(required=False, help_text=APPLY_HELP)


class Accommodation(serializers.Serializer):
    id = Id()
    username = Text()
    exam_id = Id(allow_null=True, help_text="Null: all the student's exams (a per-exam one wins).")
    multiplier = _multiplier()
    extra_seconds = _extra()
    reason = Text()
    set_by = Text(allow_null=True, help_text="The proctor who set it last.")
    updated_at = Timestamp()


class AccommodationQuery(serializers.Serializer):
    """GET accommodations: filters (query parameters)."""

    exam_id = serializers.IntegerField(
        required=False, min_value=1, help_text="Those for this exam and the all-exams ones."
    )
    username = Text(required=False, help_text="Only this student's.")


class DeleteQuery(serializers.Serializer):
    """DELETE an accommodation: `?apply_to_running=true` also changes running attempts."""

    apply_to_running = serializers.BooleanField(required=False, default=False, help_text=APPLY_HELP)


class Accommodations(serializers.Serializer):
    accommodations = Accommodation(many=True)


class RuleChange(serializers.Serializer):
    """What a change of a time rule did."""

    applied_attempts = serializers.ListField(child=Id(), help_text="The running attempts it changed at once.")
    not_applied = serializers.IntegerField(help_text="Running attempts it would change, left as they were.")


class AccommodationChange(RuleChange):
    accommodation = Accommodation(allow_null=True, help_text="Null once deleted.")


class ImportRequest(serializers.Serializer):
    csv = Text(help_text="Rows of `username,multiplier,extra_minutes,reason`; a header row is optional.")
    exam_id = Id(required=False, allow_null=True, help_text="One exam; absent or null: all the students' exams.")
    apply_to_running = Flag(required=False, help_text=APPLY_HELP)


class ImportRowError(serializers.Serializer):
    line = serializers.IntegerField(help_text="The row's line in the file (1: the first).")
    username = Text(allow_blank=True)
    message = Text()


class ImportReport(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    applied = serializers.IntegerField(help_text="Running attempts changed at once (`apply_to_running`).")
    refused = ImportRowError(many=True, help_text="Each refused row, with why; nothing of it was saved.")


class CloseOverrideRequest(serializers.Serializer):
    username = Text(help_text="The student.")
    close_at = Timestamp(help_text="Their own close for this exam (a running attempt's end moves at once).")
    reason = Text(visible=True, max_length=MAX_REASON_LENGTH)


class CloseOverride(serializers.Serializer):
    id = Id()
    username = Text()
    exam_id = Id()
    close_at = Timestamp()
    reason = Text()
    set_by = Text(allow_null=True)
    updated_at = Timestamp()


class CloseOverrides(serializers.Serializer):
    close_overrides = CloseOverride(many=True)


class CloseOverrideChange(RuleChange):
    close_override = CloseOverride(allow_null=True, help_text="Null once deleted.")


# --- The audit log (exams/audit.py) ------------------------------------------------------------


class AuditLine(serializers.Serializer):
    at = Timestamp()
    kind = Text(help_text="The AttemptEvent's kind: `started`, `extended`, `accommodation_applied`, `close_moved`, ...")
    text = Text(help_text="What happened, for a person.")
    by = Text(allow_blank=True, help_text="Who did it (a proctor's username; empty: the student or the server).")
    reason = Text(allow_blank=True)
    seconds = serializers.IntegerField(help_text="How far this moved the end (< 0: earlier).")
    end = Timestamp(allow_null=True, help_text="The deadline after this line (null while paused).")


class AuditLog(serializers.Serializer):
    """An attempt's deadline explained line by line from its events."""

    attempt_id = Id()
    exam_id = Id()
    student = Text()
    status = serializers.ChoiceField(choices=STATUSES)
    deadline = Timestamp(help_text="The stored deadline.")
    explained_deadline = Timestamp(allow_null=True, help_text="The deadline the lines add up to.")
    consistent = serializers.BooleanField(help_text="The lines reproduce the stored deadline.")
    lines = AuditLine(many=True)


def error_code() -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=sorted(ERRORS), help_text="One of the error codes in docs/api.md.")


class ErrorDetail(serializers.Serializer):
    code = error_code()
    message = Text(help_text="For a person.")


class Error(serializers.Serializer):
    error = ErrorDetail()
