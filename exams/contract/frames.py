"""Declarations of the WebSocket messages: what the server sends on each socket, and what it takes.

Every frame is one JSON object with a `type`. The registries at the bottom map each `type`
(and an ack's `action`) to its declaration: the OpenAPI schema publishes them as components
(schema.py), docs/api.md tabulates them, the socket parser validates client messages with
them (parsing.py) and the tests check every frame they receive against them.
"""

from rest_framework import serializers

from . import rest
from .fields import CompactRows, Id, RequestId, Text, Timestamp, kind
from .limits import MAX_START_CODE_LENGTH

# --- Server to student: /ws/attempts/<attempt_id>/ ------------------------------------------


class TimerFrame(rest.Timer):
    """On connect, then every tick (one second by default)."""

    type = kind("timer")
    allowance = rest.Allowance(required=False, help_text="On connect (and resync) only; ticks leave it out.")


class TimeChangedFrame(rest.Timer):
    """A rule changed the attempt's time (an accommodation applied to it, its close moved): its new end."""

    type = kind("time_changed")
    change = kind("accommodation", "close", help_text="What changed.")
    added_seconds = serializers.IntegerField(help_text="How far the end moved (< 0: earlier).")
    allowance = rest.Allowance()


class ExtendedFrame(rest.Extension):
    """A proctor gave the attempt more time."""

    type = kind("extended")


class EndedFrame(serializers.Serializer):
    """The attempt ended: pushed when it does, sent on connecting to an ended attempt, and the
    reply to the student's `submit`. The per-question result is REST's submit."""

    type = kind("submitted", "timeout", help_text="`timeout` when time ran out, else `submitted`.")
    attempt_id = Id()
    status = serializers.ChoiceField(choices=["completed", "timeout"])
    score = serializers.IntegerField()
    max_score = serializers.IntegerField()
    deadline = Timestamp()
    server_time = Timestamp()
    request_id = RequestId()


class PausedFrame(rest.Timer):
    """A proctor paused the attempt: hide the questions, show why; `remaining_seconds` stands still."""

    type = kind("paused")
    category = serializers.ChoiceField(choices=rest.IncidentCategory.choices)
    note = Text(allow_blank=True, help_text="The proctor's words to the students (may be empty).")


class ResumedFrame(rest.Timer):
    """The pause ended: the clock runs again, its deadline moved by the paused time."""

    type = kind("resumed")
    paused_ms = serializers.IntegerField(min_value=0, help_text="How long this pause lasted.")


class ReopenedFrame(rest.Timer):
    """A proctor reopened the ended attempt: it is ongoing again until `deadline`."""

    type = kind("reopened")


class OverdueFrame(serializers.Serializer):
    """Time ran out under the exam's `hand_in` policy: the answers are locked; the student must press
    submit by `hand_in_until`, after which the attempt is submitted for them (then `timeout`)."""

    type = kind("overdue")
    attempt_id = Id()
    status = serializers.ChoiceField(choices=["overdue"])
    deadline = Timestamp()
    hand_in_until = Timestamp(help_text="Submit by then.")
    server_time = Timestamp()


class AnswerSavedFrame(rest.AnswerSaved):
    """The reply to an `answer`, or an answer saved by another tab or over REST."""

    type = kind("answer_saved")
    request_id = RequestId()


class ErrorFrame(serializers.Serializer):
    """A message was refused; the socket stays open. The codes are REST's (docs/api.md)."""

    type = kind("error")
    code = rest.error_code()
    message = Text()
    request_id = RequestId()


class AuthOkFrame(serializers.Serializer):
    """The reply to `auth` (either socket): the socket now lives until the new token expires."""

    type = kind("auth_ok")
    expires_at = Timestamp(help_text="The new access token's expiry: renew again before it.")
    request_id = RequestId()


# --- Server to student: /ws/exams/<exam_id>/wait/ (the waiting room) ---------------------------


class WaitingFrame(serializers.Serializer):
    """On connect, after a start code is accepted, and when the room changes: the page counts down to `starts_at`."""

    type = kind("waiting")
    exam_id = Id()
    exam_title = Text()
    duration_seconds = serializers.IntegerField()
    starts_at = Timestamp(allow_null=True, help_text="When every clock starts; null: the proctor will start it.")
    code_required = serializers.BooleanField(help_text="The exam has a start code to enter (`start_code`).")
    code_accepted = serializers.BooleanField(help_text="This student's code was accepted (true when none is needed).")
    server_time = Timestamp()
    request_id = RequestId()


class WaitingAnnouncementsFrame(serializers.Serializer):
    """After `waiting` on connecting to the waiting room, when there is any: the exam's announcements for this
    student as they stand, each with its acknowledgement (a late or returning student sees what was sent).
    New ones arrive as `announcement`; `acknowledge` answers `acknowledged`, as on the attempt's socket."""

    type = kind("announcements")
    exam_id = Id()
    announcements = rest.StudentAnnouncement(many=True)


class StartFrame(rest.Questions):
    """The student's attempt and questions, sent BEFORE `started_at`: the page reveals them at `started_at`
    (on the server's clock). Then the attempt's own socket takes over."""

    type = kind("start")
    started_at = Timestamp(help_text="The instant the attempt's clock starts (the same for everyone seated together).")
    request_id = RequestId()


class StudentRoomFrame(rest.StudentRoom):
    """After `timer` on connecting to an attempt in progress, and on a resync, when there is any: the
    announcements and the question thread as they stand (none are ever deleted: no frame, nothing yet)."""

    type = kind("room")


class AnnouncementFrame(rest.StudentAnnouncement):
    """A proctor's announcement to the exam or to this student: show it until acknowledged."""

    type = kind("announcement")


class AcknowledgedFrame(rest.Acknowledged):
    """The reply to `acknowledge`, and to the attempt's other sockets (another tab acknowledged it)."""

    type = kind("acknowledged")
    request_id = RequestId()


class QuestionFrame(rest.RoomQuestion):
    """The reply to `ask`; to the attempt's sockets when a question is asked from another tab or answered."""

    type = kind("question")
    request_id = RequestId()


# --- Server to proctor: /ws/proctor/exams/<exam_id>/ ------------------------------------------

ATTEMPT_EVENTS = [
    "attempt_started",
    "answer_saved",
    "attempt_submitted",
    "attempt_timeout",
    "attempt_overdue",
    "attempt_extended",
    "attempt_paused",
    "attempt_resumed",
    "time_changed",
    "attempt_reopened",
    "student_connected",
    "student_disconnected",
]


# The snapshot's columns: rest.ProctorRow's fields, in its declared order.
PROCTOR_COLUMNS: list[str] = list(rest.ProctorRow().fields)


class SnapshotFrame(serializers.Serializer):
    """On connect, and again after the server lost track (Redis came back): every attempt of the
    exam, compactly. `columns` names rest.ProctorRow's fields once; each of `rows` is one attempt's
    values in that order (an event's `attempt` object without the keys; an optional field the row
    lacks, such as `hand_in_until`, is null)."""

    type = kind("snapshot")
    exam_id = Id()
    since = Timestamp(
        allow_null=True,
        help_text="Null: every attempt of the exam (rows the client has that are not listed are gone). Else the "
        "socket's `since` it was opened with: only the attempts changed after it; the client's other rows stand.",
    )
    columns = serializers.ListField(
        child=Text(), help_text="The names of ProctorRow's fields, in the order it declares them."
    )
    rows = CompactRows(row=rest.ProctorRow, help_text="One per attempt: its ProctorRow's values in `columns` order.")


class AttemptEventFrame(serializers.Serializer):
    """Something happened to one attempt of the exam: its new row."""

    type = kind(*ATTEMPT_EVENTS)
    attempt = rest.ProctorRow()


class ExamStartingFrame(serializers.Serializer):
    """The synchronized start is set (start now, or the schedule came): clocks start at `started_at`."""

    type = kind("exam_starting")
    exam_id = Id()
    started_at = Timestamp()
    server_time = Timestamp()


class ExamPauseFrame(serializers.Serializer):
    """The whole exam was paused (`exam_paused`) or resumed (`exam_resumed`); its attempts' rows follow
    as `attempt_paused` / `attempt_resumed`."""

    type = kind("exam_paused", "exam_resumed")
    exam_id = Id()
    paused_at = Timestamp(allow_null=True, help_text="Set while paused.")
    category = serializers.ChoiceField(choices=rest.IncidentCategory.choices, allow_null=True)
    note = Text(allow_blank=True)
    closes_at = Timestamp(allow_null=True, help_text="The exam's close (moved on resume, unless kept).")


class ExtendAck(rest.Extension):
    """The reply to `extend`."""

    type = kind("ack")
    action = kind("extend")
    request_id = RequestId()


class ForceSubmitAck(rest.Result):
    """The reply to `force_submit`: the attempt's result."""

    type = kind("ack")
    action = kind("force_submit")
    request_id = RequestId()


class StartNowAck(rest.WaitingRoom):
    """The reply to `start_now`: the room, with its `started_at`."""

    type = kind("ack")
    action = kind("start_now")
    request_id = RequestId()


class TimeControlAck(rest.TimeControl):
    """The reply to `pause`, `resume` and `change_time`."""

    type = kind("ack")
    action = kind("pause", "resume", "change_time")
    request_id = RequestId()


class ReopenAck(rest.Reopened):
    """The reply to `reopen`."""

    type = kind("ack")
    action = kind("reopen")
    request_id = RequestId()


class ProctorRoomFrame(rest.ProctorRoom):
    """After `snapshot` on connect, and on a resync, when there is any: announcements with
    acknowledgements, the students' questions, the incidents (none are ever deleted)."""

    type = kind("room")


class AnnouncementSentFrame(serializers.Serializer):
    """A proctor (any of the exam's) sent an announcement."""

    type = kind("announcement_sent")
    announcement = rest.ProctorAnnouncement()


class AnnouncementAckFrame(serializers.Serializer):
    """A student acknowledged an announcement."""

    type = kind("announcement_ack")
    announcement_id = Id()
    ack = rest.AnnouncementAckRow()
    acknowledged = serializers.IntegerField(min_value=1, help_text="How many students have acknowledged it now.")


class RoomQuestionFrame(serializers.Serializer):
    """A student asked a question, or a proctor answered one."""

    type = kind("question")
    question = rest.ProctorRoomQuestion()


class IncidentFrame(serializers.Serializer):
    """A proctor recorded an incident."""

    type = kind("incident")
    incident = rest.IncidentRecord()


class AnnounceAck(rest.ProctorAnnouncement):
    """The reply to `announce`: the stored announcement."""

    type = kind("ack")
    action = kind("announce")
    request_id = RequestId()


class AnswerQuestionAck(rest.ProctorRoomQuestion):
    """The reply to `answer_question`: the question with its answer."""

    type = kind("ack")
    action = kind("answer_question")
    request_id = RequestId()


# --- Client to server -----------------------------------------------------------------------


class AnswerMessage(rest.AnswerFields):
    """Student: save an answer (replaces the question's previous one)."""

    type = kind("answer")
    request_id = RequestId()


class SubmitMessage(serializers.Serializer):
    """Student: submit the attempt."""

    type = kind("submit")
    request_id = RequestId()


class ExtendMessage(rest.ExtendRequest):
    """Proctor: give an attempt of this exam more time."""

    type = kind("extend")
    attempt_id = Id()
    request_id = RequestId()


class ForceSubmitMessage(serializers.Serializer):
    """Proctor: end an attempt of this exam now, scored as submitted."""

    type = kind("force_submit")
    attempt_id = Id()
    request_id = RequestId()


class StartNowMessage(serializers.Serializer):
    """Proctor: start this (waiting-room) exam now: every waiting student's clock starts at the same instant."""

    type = kind("start_now")
    request_id = RequestId()


class StartCodeMessage(serializers.Serializer):
    """Waiting student: the start code the proctor read out."""

    type = kind("start_code")
    code = Text(max_length=MAX_START_CODE_LENGTH)
    request_id = RequestId()


class PauseMessage(rest.PauseRequest):
    """Proctor: pause attempts of this exam (`attempt_ids`), or the whole exam."""

    type = kind("pause")
    request_id = RequestId()


class ResumeMessage(rest.ResumeRequest):
    """Proctor: resume paused attempts of this exam (`attempt_ids`), or the whole exam."""

    type = kind("resume")
    request_id = RequestId()


class ChangeTimeMessage(rest.TimeChangeRequest):
    """Proctor: extend or shorten the selected (or every ongoing) attempt of this exam."""

    type = kind("change_time")
    request_id = RequestId()


class ReopenMessage(rest.ReopenRequest):
    """Proctor: reopen an ended attempt of this exam."""

    type = kind("reopen")
    attempt_id = Id()
    request_id = RequestId()


class AcknowledgeMessage(rest.AcknowledgeRequest):
    """Student: I have read this announcement (repeats change nothing)."""

    type = kind("acknowledge")
    request_id = RequestId()


class AskMessage(rest.AskRequest):
    """Student: a question to the proctors (the attempt must be in progress)."""

    type = kind("ask")
    request_id = RequestId()


class AnnounceMessage(rest.AnnounceRequest):
    """Proctor: an announcement to the exam, or to one student (`attempt_id`)."""

    type = kind("announce")
    request_id = RequestId()


class AnswerQuestionMessage(rest.AnswerQuestionRequest):
    """Proctor: answer a student's question of this exam (replaces an earlier answer)."""

    type = kind("answer_question")
    question_id = Id()
    request_id = RequestId()


class AuthMessage(serializers.Serializer):
    """Either socket: a fresh access token for the socket's user, sent before the one the socket
    was opened (or last renewed) with expires; past that expiry the socket is closed with 4401."""

    type = kind("auth")
    token = Text(help_text="An access token (POST /api/auth/refresh/) of the socket's user.")
    request_id = RequestId()


# --- Registries: type (or (type, action)) -> declaration ----------------------------------------

Declaration = type[serializers.Serializer]


def _by_type(*declarations: Declaration) -> dict[str, Declaration]:
    kinds = {d: d().fields["type"] for d in declarations}
    return {
        value: d for d, field in kinds.items() if isinstance(field, serializers.ChoiceField) for value in field.choices
    }


STUDENT_FRAMES = _by_type(
    TimerFrame,
    TimeChangedFrame,
    ExtendedFrame,
    EndedFrame,
    OverdueFrame,
    PausedFrame,
    ResumedFrame,
    ReopenedFrame,
    AnswerSavedFrame,
    StudentRoomFrame,
    AnnouncementFrame,
    AcknowledgedFrame,
    QuestionFrame,
    AuthOkFrame,
    ErrorFrame,
)
PROCTOR_FRAMES = _by_type(
    SnapshotFrame,
    AttemptEventFrame,
    ExamStartingFrame,
    ExamPauseFrame,
    ProctorRoomFrame,
    AnnouncementSentFrame,
    AnnouncementAckFrame,
    RoomQuestionFrame,
    IncidentFrame,
    AuthOkFrame,
    ErrorFrame,
)
PROCTOR_ACKS = {
    "extend": ExtendAck,
    "force_submit": ForceSubmitAck,
    "start_now": StartNowAck,
    "pause": TimeControlAck,
    "resume": TimeControlAck,
    "change_time": TimeControlAck,
    "reopen": ReopenAck,
    "announce": AnnounceAck,
    "answer_question": AnswerQuestionAck,
}
WAITING_FRAMES = _by_type(
    WaitingFrame, StartFrame, WaitingAnnouncementsFrame, AnnouncementFrame, AcknowledgedFrame, AuthOkFrame, ErrorFrame
)
STUDENT_MESSAGES = _by_type(AnswerMessage, SubmitMessage, AcknowledgeMessage, AskMessage, AuthMessage)
PROCTOR_MESSAGES = _by_type(
    ExtendMessage,
    ForceSubmitMessage,
    StartNowMessage,
    PauseMessage,
    ResumeMessage,
    ChangeTimeMessage,
    ReopenMessage,
    AnnounceMessage,
    AnswerQuestionMessage,
    AuthMessage,
)
WAITING_MESSAGES = _by_type(StartCodeMessage, AcknowledgeMessage, AuthMessage)

# socket -> (its path, the frames it sends by type, the messages it takes by type)
SOCKETS: dict[str, tuple[str, dict[str, Declaration], dict[str, Declaration]]] = {
    "student": ("/ws/attempts/<attempt_id>/?token=<access>", STUDENT_FRAMES, STUDENT_MESSAGES),
    "proctor": ("/ws/proctor/exams/<exam_id>/?token=<access>[&since=<server_time>]", PROCTOR_FRAMES, PROCTOR_MESSAGES),
    "waiting": ("/ws/exams/<exam_id>/wait/?token=<access>", WAITING_FRAMES, WAITING_MESSAGES),
}


def frame_declaration(socket: str, frame: dict) -> Declaration | None:
    """The declaration a frame sent on `socket` ("student", "proctor" or "waiting") must match, if its type has one."""
    kind, action = frame.get("type"), frame.get("action")
    if socket == "proctor" and kind == "ack":
        return PROCTOR_ACKS.get(action) if isinstance(action, str) else None
    return SOCKETS[socket][1].get(kind) if isinstance(kind, str) else None
