"""What to tell whom when something happened to an attempt: the frames for its student and
for its exam's proctors, published through exams/delivery.py.

Services call these from `transaction.on_commit`, so nobody hears of a change that rolled
back. Consumers forward the frames as they are.
"""

import logging
from datetime import datetime

from . import clock, room, row_changes, selectors
from .contract import builders, room_builders
from .delivery import (
    BATCH_PUBLISH,
    REQUEST_PUBLISH,
    Event,
    publish,
    rows_to_proctors,
    to_exam_students,
    to_proctors,
    to_student,
    to_waiting_room,
)
from .models import Answer, Attempt, Exam
from .room_models import Announcement, AnnouncementAck, Incident, StudentQuestion

# Signals to the processes holding an exam's waiting sockets (realtime/waiting.py); RELAY carries a
# frame for the room's sockets (`user_id` set: that student's only).
STARTING, ROOM_CHANGED, RELAY = "starting", "room_changed", "relay"

logger = logging.getLogger(__name__)


def _row(attempt_id: int) -> dict:
    return builders.proctor_rows(selectors.proctor_attempts(attempt_ids=[attempt_id]))[0]


def exam_rows(exam_id: int) -> list[dict]:
    """Every attempt's row of an exam: what a proctor socket is told on connect and on resync."""
    return builders.proctor_rows(selectors.proctor_attempts(exam_id=exam_id))


def exam_rows_since(exam_id: int, since: datetime) -> list[dict] | None:
    """The rows of the exam's attempts changed after `since` (a reconnecting proctor's); None: send them all."""
    changed = row_changes.changed_attempt_ids(exam_id=exam_id, since=since)
    return None if changed is None else attempt_rows(changed)


def attempt_rows(attempt_ids: list[int]) -> list[dict]:
    """The rows of these attempts, as a proctor sees them now (in id order)."""
    return builders.proctor_rows(selectors.proctor_attempts(attempt_ids=attempt_ids))


def attempt_started(attempt: Attempt) -> None:
    """`attempt_started` to the proctors."""
    publish([to_proctors(attempt.exam_id, builders.attempt_event("attempt_started", _row(attempt.pk)))])


def answer_saved(answer: Answer, attempt: Attempt) -> None:
    """`answer_saved` to the student's sockets (the one that sent it drops it) and to the proctors."""
    publish(
        [
            to_student(attempt.pk, builders.answer_saved_frame(answer)),
            to_proctors(attempt.exam_id, builders.attempt_event("answer_saved", _row(attempt.pk))),
        ]
    )


def attempt_extended(attempt: Attempt, added_seconds: int) -> None:
    """`extended` to the student, `attempt_extended` to the proctors."""
    publish(
        [
            to_student(attempt.pk, builders.extended_frame(attempt, added_seconds)),
            to_proctors(attempt.exam_id, builders.attempt_event("attempt_extended", _row(attempt.pk))),
        ]
    )


def _to_proctors(attempts: list[Attempt], kind: str) -> list[Event]:
    """`kind` (frames.ATTEMPT_EVENTS) with each attempt's row, for its exam's proctors: one event per exam
    naming the attempts; the processes holding its proctors read the rows (`proctor_frames`)."""
    by_exam: dict[int, list[int]] = {}
    for attempt in attempts:
        by_exam.setdefault(attempt.exam_id, []).append(attempt.pk)
    return [rows_to_proctors(exam_id, kind, ids) for exam_id, ids in by_exam.items()]


def proctor_frames(kind: str, attempt_ids: list[int]) -> list[dict]:
    """`kind` with the row of each of these attempts as it is now (three queries for all)."""
    return [builders.attempt_event(kind, row) for row in attempt_rows(attempt_ids)]


def attempts_paused(attempt_ids: list[int], category: str, note: str) -> bool:
    """`paused` to each student, then `attempt_paused` to the proctors, in one batched publish."""
    attempts = selectors.attempts_in_order(attempt_ids)
    students = [to_student(a.pk, builders.paused_frame(a, category, note)) for a in attempts]
    return publish(students + _to_proctors(attempts, "attempt_paused"))


def attempts_resumed(attempt_ids: list[int], paused_ms: dict[int, int]) -> bool:
    """`resumed` (the moved deadline) to each student, then `attempt_resumed` to the proctors."""
    attempts = selectors.attempts_in_order(attempt_ids)
    students = [to_student(a.pk, builders.resumed_frame(a, paused_ms.get(a.pk, 0))) for a in attempts]
    return publish(students + _to_proctors(attempts, "attempt_resumed"))


def times_changed(attempts: list[Attempt], seconds: dict[int, int]) -> bool:
    """A time change of many attempts, read as it left them: `extended` (its grant) to each student whose
    time grew, its new `timer` to each whose time shrank; `time_changed` to the proctors. Students first."""
    students = [
        to_student(
            a.pk, builders.extended_frame(a, seconds[a.pk]) if seconds.get(a.pk, 0) > 0 else builders.timer_frame(a)
        )
        for a in attempts
    ]
    delivered = publish(students)
    return publish(_to_proctors(attempts, "time_changed")) and delivered


def attempt_reopened(attempt: Attempt) -> bool:
    """`reopened` to the student's sockets, `attempt_reopened` to the proctors (`attempt` as the reopening
    left it: time_control.reopen reads it back)."""
    return publish(
        [to_student(attempt.pk, builders.reopened_frame(attempt)), *_to_proctors([attempt], "attempt_reopened")]
    )


def exam_pause_changed(exam: Exam, category: str | None, note: str) -> bool:
    """`exam_paused` / `exam_resumed` to the exam's proctors."""
    return publish([to_proctors(exam.pk, builders.exam_pause_frame(exam, category, note))])


def time_changed(attempt: Attempt, *, change: str, added_seconds: int) -> None:
    """`time_changed` to the student (the new end and allowance), `time_changed` to the proctors (the row)."""
    publish(
        [
            to_student(attempt.pk, builders.time_changed_frame(attempt, change=change, added_seconds=added_seconds)),
            to_proctors(attempt.exam_id, builders.attempt_event("time_changed", _row(attempt.pk))),
        ]
    )


def attempts_ended(attempts: list[Attempt], *, bound: dict = REQUEST_PUBLISH) -> bool:
    """`timeout`/`submitted` to each student, then `attempt_timeout`/`attempt_submitted` to proctors,
    for attempts read as the ending left them (its own read of what it ended, services._end_attempts).

    Students first: their frames need nothing more, the proctors' rows three queries (a hard close ends
    thousands at once, and the students' screens are what must not wait).
    """
    delivered = ends_to_students(attempts, bound=bound)
    return ends_to_proctors(attempts, bound=bound) and delivered


def ends_to_students(attempts: list[Attempt], *, bound: dict = REQUEST_PUBLISH) -> bool:
    """`timeout`/`submitted` (or `overdue`) to each student of the ended `attempts`."""
    at = clock.now()
    return publish([to_student(a.pk, builders.ended_frame(a, at=at)) for a in attempts], bound=bound)


def ends_to_proctors(attempts: list[Attempt], *, bound: dict = REQUEST_PUBLISH) -> bool:
    """`attempt_timeout`/`attempt_submitted` (or `attempt_overdue`) to the proctors, for each ended attempt its
    row as it is now: the listener gathers these for a moment (exams/expiry/listener.py), and an attempt
    reopened meanwhile must not look ended again."""
    kinds = {a.pk: f"attempt_{builders.ended_kind(a)}" for a in attempts}
    return publish(
        [
            to_proctors(row["exam_id"], builders.attempt_event(kinds[row["attempt_id"]], row))
            for row in attempt_rows(list(kinds))
        ],
        bound=bound,
    )


def presence_changed(connected: list[int], disconnected: list[int]) -> bool:
    """`student_connected`/`student_disconnected` to the proctors (from a hub's flush or a sweep, off any request)."""
    return publish(presence_events(connected, disconnected), bound=BATCH_PUBLISH)


def presence_events(connected: list[int], disconnected: list[int]) -> list[Event]:
    """`student_connected`/`student_disconnected` for the proctors of each attempt's exam."""
    attempts = selectors.proctor_attempts(attempt_ids=connected + disconnected)
    # Presence just said who is connected: no need to ask Redis again.
    known = dict.fromkeys(connected, True) | dict.fromkeys(disconnected, False)
    rows = {row["attempt_id"]: row for row in builders.proctor_rows(attempts, connected=known)}
    events: list[Event] = []
    for ids, kind in ((connected, "student_connected"), (disconnected, "student_disconnected")):
        events.extend(to_proctors(rows[i]["exam_id"], builders.attempt_event(kind, rows[i])) for i in ids if i in rows)
    return events


def exam_starting(exam_id: int, started_at: datetime) -> bool:
    """The synchronized start is set: every process seats its waiting students; proctors hear `exam_starting`."""
    return publish(
        [
            to_waiting_room(exam_id, {"type": STARTING, "started_at": clock.iso(started_at)}),
            to_proctors(exam_id, builders.exam_starting_frame(exam_id, started_at)),
        ]
    )


def room_changed(exam_id: int) -> bool:
    """The waiting room's settings changed: every process re-reads them for its waiting sockets."""
    return publish([to_waiting_room(exam_id, {"type": ROOM_CHANGED})])


def attempts_started(attempt_ids: list[int]) -> bool:
    """`attempt_started` to the proctors for many attempts at once (a synchronized start), off the students' path."""
    if not attempt_ids:
        return True
    rows = builders.proctor_rows(selectors.proctor_attempts(attempt_ids=attempt_ids))
    return publish(
        [to_proctors(row["exam_id"], builders.attempt_event("attempt_started", row)) for row in rows],
        bound=BATCH_PUBLISH,
    )


# --- The exam room (issue 12 §2, §3): frames built in exams/contract/room_builders.py ----------


def to_waiting_students(exam_id: int, frame: dict, *, user_id: int | None = None) -> Event:
    """A frame for the waiting-room sockets of one exam (`user_id`: of that student only)."""
    return to_waiting_room(exam_id, {"type": RELAY, "user_id": user_id, "frame": frame})


def announcement_sent(announcement: Announcement) -> None:
    """`announcement` to its students' sockets, in the exam and in its waiting room (one event each for a
    whole exam), `announcement_sent` to the proctors."""
    frame = room_builders.announcement_frame(announcement)
    if announcement.recipient_id is None:
        events = [to_exam_students(announcement.exam_id, frame)]
    else:
        attempt_ids = Attempt.objects.filter(
            exam_id=announcement.exam_id, user_id=announcement.recipient_id
        ).values_list("pk", flat=True)
        events = [to_student(pk, frame) for pk in attempt_ids]
    events.append(to_waiting_students(announcement.exam_id, frame, user_id=announcement.recipient_id))
    status = room.announcement_statuses(exam_id=announcement.exam_id, announcement_ids=[announcement.pk])[0]
    events.append(to_proctors(announcement.exam_id, room_builders.announcement_sent_frame(status)))
    publish(events)


def announcement_acknowledged(ack: AnnouncementAck, *, exam_id: int, attempt_id: int | None) -> None:
    """`acknowledged` to the student's other sockets (the attempt's, or with none yet their waiting room's),
    `announcement_ack` to the proctors."""
    count = AnnouncementAck.objects.filter(announcement_id=ack.announcement_id).count()
    row = room.AckedBy(ack.user_id, ack.user.get_username(), ack.at)
    frame = room_builders.acknowledged_frame(ack)
    publish(
        [
            to_student(attempt_id, frame) if attempt_id else to_waiting_students(exam_id, frame, user_id=ack.user_id),
            to_proctors(
                exam_id,
                room_builders.announcement_ack_frame(row, announcement_id=ack.announcement_id, acknowledged=count),
            ),
        ]
    )


def question_changed(question: StudentQuestion) -> None:
    """`question` (asked or answered) to its attempt's sockets only, and to the proctors."""
    publish(
        [
            to_student(question.attempt_id, room_builders.question_frame(question)),
            to_proctors(question.attempt.exam_id, room_builders.question_event(question)),
        ]
    )


def incident_recorded(incident: Incident) -> None:
    """`incident` to the proctors (time granted with it is pushed by the extension itself)."""
    publish([to_proctors(incident.exam_id, room_builders.incident_frame(incident))])
