"""The exam room's bodies and frames (issue 12 §2, §3): announcements, students' questions and
incidents, built from exams/room.py's reads. Each builder returns a plain dict of the declaration
named in its docstring (rest.py, frames.py); no database is read here.
"""

from collections.abc import Iterable

from exams import clock
from exams.room import AckedBy, AnnouncementStatus, ProctorRoom, SeenAnnouncement, StudentRoom
from exams.room_models import Announcement, AnnouncementAck, Incident, StudentQuestion


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


def student_announcement(seen: SeenAnnouncement) -> dict:
    """rest.StudentAnnouncement."""
    a = seen.announcement
    return {
        "id": a.pk,
        "exam_id": a.exam_id,
        "message": a.message,
        "to": "exam" if a.recipient_id is None else "student",
        "sent_at": clock.iso(a.sent_at),
        "by": _username(a.sent_by),
        "acknowledged_at": clock.iso(seen.acknowledged_at),
    }


def announcement_frame(announcement: Announcement) -> dict:
    """frames.AnnouncementFrame: a new announcement, not acknowledged by anyone yet."""
    return {"type": "announcement", **student_announcement(SeenAnnouncement(announcement, None))}


def acknowledged(ack: AnnouncementAck) -> dict:
    """rest.Acknowledged: POST acknowledge."""
    return {"announcement_id": ack.announcement_id, "acknowledged_at": clock.iso(ack.at)}


def acknowledged_frame(ack: AnnouncementAck) -> dict:
    """frames.AcknowledgedFrame."""
    return {"type": "acknowledged", **acknowledged(ack)}


def room_question(question: StudentQuestion) -> dict:
    """rest.RoomQuestion: a question as its student sees it."""
    return {
        "id": question.pk,
        "attempt_id": question.attempt_id,
        "text": question.text,
        "asked_at": clock.iso(question.asked_at),
        "answer": question.answer if question.answered_at is not None else None,
        "answered_at": clock.iso(question.answered_at),
    }


def question_frame(question: StudentQuestion) -> dict:
    """frames.QuestionFrame: to the student's sockets."""
    return {"type": "question", **room_question(question)}


def student_room(room: StudentRoom) -> dict:
    """rest.StudentRoom: GET the room, and the socket's `room` frame's body."""
    return {
        "attempt_id": room.attempt_id,
        "announcements": [student_announcement(seen) for seen in room.announcements],
        "questions": [room_question(q) for q in room.questions],
    }


def waiting_announcements_frame(exam_id: int, announcements: list[SeenAnnouncement]) -> dict:
    """frames.WaitingAnnouncementsFrame: a waiting student's announcements, on connect."""
    return {
        "type": "announcements",
        "exam_id": exam_id,
        "announcements": [student_announcement(seen) for seen in announcements],
    }


def student_room_frame(room: StudentRoom) -> dict:
    """frames.StudentRoomFrame."""
    return {"type": "room", **student_room(room)}


def proctor_question(question: StudentQuestion) -> dict:
    """rest.ProctorRoomQuestion (the question's attempt with its user loaded)."""
    return {
        **room_question(question),
        "student": question.attempt.user.get_username(),
        "answered_by": _username(question.answered_by) if question.answered_at is not None else None,
    }


def question_event(question: StudentQuestion) -> dict:
    """frames.RoomQuestionFrame: to the proctors."""
    return {"type": "question", "question": proctor_question(question)}


def answer_question_ack(question: StudentQuestion) -> dict:
    """frames.AnswerQuestionAck."""
    return {"type": "ack", "action": "answer_question", **proctor_question(question)}


def ack_row(ack: AckedBy) -> dict:
    """rest.AnnouncementAckRow."""
    return {"user_id": ack.user_id, "student": ack.student, "acknowledged_at": clock.iso(ack.at)}


def proctor_announcement(status: AnnouncementStatus) -> dict:
    """rest.ProctorAnnouncement (the announcement's sender and recipient loaded)."""
    a = status.announcement
    return {
        "id": a.pk,
        "exam_id": a.exam_id,
        "message": a.message,
        "to": "exam" if a.recipient_id is None else "student",
        "student": _username(a.recipient),
        "sent_at": clock.iso(a.sent_at),
        "by": _username(a.sent_by),
        "recipients": status.recipients,
        "acks": [ack_row(ack) for ack in status.acks],
    }


def announcement_sent_frame(status: AnnouncementStatus) -> dict:
    """frames.AnnouncementSentFrame."""
    return {"type": "announcement_sent", "announcement": proctor_announcement(status)}


def announce_ack(status: AnnouncementStatus) -> dict:
    """frames.AnnounceAck."""
    return {"type": "ack", "action": "announce", **proctor_announcement(status)}


def announcement_ack_frame(ack: AckedBy, *, announcement_id: int, acknowledged: int) -> dict:
    """frames.AnnouncementAckFrame."""
    return {
        "type": "announcement_ack",
        "announcement_id": announcement_id,
        "ack": ack_row(ack),
        "acknowledged": acknowledged,
    }


def incident(record: Incident) -> dict:
    """rest.IncidentRecord (its attempt's user and its recorder loaded)."""
    return {
        "id": record.pk,
        "exam_id": record.exam_id,
        "attempt_id": record.attempt_id,
        "student": record.attempt.user.get_username() if record.attempt is not None else None,
        "category": record.category,
        "note": record.note,
        "granted_seconds": record.granted_seconds,
        "recorded_at": clock.iso(record.recorded_at),
        "by": _username(record.recorded_by),
    }


def incidents(exam_id: int, records: Iterable[Incident]) -> dict:
    """rest.Incidents."""
    return {"exam_id": exam_id, "incidents": [incident(r) for r in records]}


def incident_frame(record: Incident) -> dict:
    """frames.IncidentFrame."""
    return {"type": "incident", "incident": incident(record)}


def proctor_room(room: ProctorRoom) -> dict:
    """rest.ProctorRoom: GET the room, and the proctor socket's `room` frame's body."""
    return {
        "exam_id": room.exam_id,
        "announcements": [proctor_announcement(s) for s in room.announcements],
        "questions": [proctor_question(q) for q in room.questions],
        "incidents": [incident(r) for r in room.incidents],
    }


def proctor_room_frame(room: ProctorRoom) -> dict:
    """frames.ProctorRoomFrame."""
    return {"type": "room", **proctor_room(room)}
