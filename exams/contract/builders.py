"""The one place every REST body and socket frame is built, from models and selector reads
(the exam room's announcements, questions and incidents: room_builders.py).

Each builder returns a plain dict of the declaration named in its docstring (rest.py,
frames.py); the tests check every body and frame they receive against it. Builders read
nothing but presence (for a proctor row's `connected`), and no database.
"""

import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from exams import clock, deadlines, presence
from exams.enrollment import NOT_STARTED, WAITING
from exams.models import Accommodation, Answer, Attempt, AttemptStatus, CloseOverride, Exam
from exams.review import Review

from ..selectors import ExamListing, Progress, Sheet
from . import frames

if TYPE_CHECKING:
    from exams.audit import Explanation
    from exams.enrollment import EnrollmentChange, RosterRow
    from exams.models import Question
    from exams.time_rules import ImportReport, RuleChange
    from exams.waiting_room import RoomSummary

# --- The clock ------------------------------------------------------------------------------


def timer_fields(attempt_id: int, status: str, deadline: datetime, at: datetime) -> dict:
    """rest.Timer's fields."""
    return {
        "attempt_id": attempt_id,
        "status": status,
        "remaining_seconds": deadlines.remaining_seconds(deadline, at) if status == AttemptStatus.ONGOING else 0,
        "deadline": clock.iso(deadline),
        "server_time": clock.iso(at),
    }


def timer(attempt: Attempt, *, at: datetime | None = None) -> dict:
    """rest.Timer: GET remaining."""
    fields = timer_fields(attempt.pk, attempt.status, attempt.deadline_at, at or clock.now())
    if attempt.is_overdue:
        fields["hand_in_until"] = clock.iso(attempt.hand_in_until)
    elif attempt.paused_at is not None and attempt.is_ongoing:
        # The clock stands still: the deadline is the one it would have if it resumed now (the one
        # rule, with this pause counted so far), so what is left stays what was left at the pause.
        at = at or clock.now()
        paused_total = attempt.paused_total + (at - attempt.paused_at)
        deadline = deadlines.attempt_deadline(
            attempt.started_at, attempt.allotted_seconds, attempt.extra_seconds, paused_total, attempt.close_at
        )
        fields = timer_fields(attempt.pk, attempt.status, deadline, at)
        fields["paused_at"] = clock.iso(attempt.paused_at)
    return fields


def paused_tick_frame(attempt_id: int, deadline: datetime, paused_at: datetime, at: datetime) -> dict:
    """frames.TimerFrame of a tick of a paused attempt (its deadline at the pause held in memory): the
    deadline moves with the clock, what is left stands still. (A hard close that would clamp it is
    not known here: the REST body and the `resumed` frame have the exact deadline.)"""
    fields = timer_fields(attempt_id, AttemptStatus.ONGOING, deadline + (at - paused_at), at)
    fields["paused_at"] = clock.iso(paused_at)
    return {"type": "timer", **fields}


def timer_frame(attempt: Attempt) -> dict:
    """frames.TimerFrame: a socket's state on connect or resync."""
    return {"type": "timer", **timer(attempt), "allowance": allowance(attempt)}


def allowance(attempt: Attempt) -> dict:
    """rest.Allowance: the attempt's time, read from its timeline (exams/deadlines.py)."""
    return {
        "allotted_seconds": attempt.allotted_seconds,
        "accommodation_seconds": attempt.accommodation_seconds,
        "granted_seconds": attempt.extra_seconds,
        "paused_seconds": round(attempt.paused_total.total_seconds()),
        "close_at": clock.iso(attempt.close_at),
    }


def time_changed_frame(attempt: Attempt, *, change: str, added_seconds: int) -> dict:
    """frames.TimeChangedFrame: to the student's sockets."""
    return {
        "type": "time_changed",
        **timer(attempt),
        "change": change,
        "added_seconds": added_seconds,
        "allowance": allowance(attempt),
    }


def tick_frame(attempt_id: int, deadline: datetime, at: datetime) -> dict:
    """frames.TimerFrame of a tick, from a deadline held in memory (the ticker caches its encoding)."""
    return {"type": "timer", **timer_fields(attempt_id, AttemptStatus.ONGOING, deadline, at)}


def start(attempt: Attempt, *, created: bool) -> dict:
    """rest.Start: POST start."""
    return {
        **timer(attempt),
        "exam_id": attempt.exam_id,
        "duration_seconds": attempt.exam.duration_seconds,
        "allowance": allowance(attempt),
        "resumed": not created,
    }


def extension(attempt: Attempt, added_seconds: int) -> dict:
    """rest.Extension: POST extend."""
    return {**timer(attempt), "added_seconds": added_seconds}


def extended_frame(attempt: Attempt, added_seconds: int) -> dict:
    """frames.ExtendedFrame: to the student's sockets."""
    return {"type": "extended", **extension(attempt, added_seconds)}


def extend_ack(attempt: Attempt, added_seconds: int) -> dict:
    """frames.ExtendAck: the proctor socket's reply to `extend`."""
    return {"type": "ack", "action": "extend", **extension(attempt, added_seconds)}


def paused_frame(attempt: Attempt, category: str, note: str) -> dict:
    """frames.PausedFrame: to the student's sockets when a proctor pauses the attempt (and on connecting to it)."""
    return {"type": "paused", **timer(attempt), "category": category, "note": note}


def resumed_frame(attempt: Attempt, paused_ms: int) -> dict:
    """frames.ResumedFrame: the pause ended, with the moved deadline."""
    return {"type": "resumed", **timer(attempt), "paused_ms": paused_ms}


def reopened(attempt: Attempt, added_seconds: int) -> dict:
    """rest.Reopened: POST reopen."""
    return {**timer(attempt), "added_seconds": added_seconds}


def reopened_frame(attempt: Attempt) -> dict:
    """frames.ReopenedFrame: to the student's sockets."""
    return {"type": "reopened", **timer(attempt)}


def reopen_ack(attempt: Attempt, added_seconds: int) -> dict:
    """frames.ReopenAck: the proctor socket's reply to `reopen`."""
    return {"type": "ack", "action": "reopen", **reopened(attempt, added_seconds)}


def time_control(exam: Exam, attempt_ids: list[int]) -> dict:
    """rest.TimeControl: what a pause, resume or time change did."""
    return {
        "exam_id": exam.pk,
        "changed": len(attempt_ids),
        "attempt_ids": attempt_ids,
        "exam_paused_at": clock.iso(exam.paused_at),
        "closes_at": clock.iso(exam.closes_at),
        "server_time": clock.iso(clock.now()),
    }


def time_control_ack(action: str, exam: Exam, attempt_ids: list[int]) -> dict:
    """frames.TimeControlAck: the proctor socket's reply to `pause`, `resume` or `change_time`."""
    return {"type": "ack", "action": action, **time_control(exam, attempt_ids)}


def exam_pause_frame(exam: Exam, category: str | None, note: str) -> dict:
    """frames.ExamPauseFrame: `exam_paused` while `exam.paused_at` is set, else `exam_resumed`."""
    return {
        "type": "exam_paused" if exam.paused_at else "exam_resumed",
        "exam_id": exam.pk,
        "paused_at": clock.iso(exam.paused_at),
        "category": category,
        "note": note,
        "closes_at": clock.iso(exam.closes_at),
    }


# --- Answers and results -----------------------------------------------------------------


def answer_saved(answer: Answer) -> dict:
    """rest.AnswerSaved: POST submit-answer."""
    return {
        "attempt_id": answer.attempt_id,
        "question_id": answer.question_id,
        "selected_option": answer.selected_option or None,  # CLEARED: null
        "saved_at": clock.iso(answer.saved_at),
    }


def answer_saved_frame(answer: Answer) -> dict:
    """frames.AnswerSavedFrame: the reply to `answer`, and to the student's other sockets."""
    return {"type": "answer_saved", **answer_saved(answer)}


def result(sheet: Sheet) -> dict:
    """rest.Result: the score and each question's outcome, as far as `sheet.review` shows it."""
    attempt, seen = sheet.attempt, sheet.review
    score = attempt.score or 0
    max_score = attempt.max_score if attempt.max_score is not None else sum(q.points for q in sheet.questions)
    rows = []
    for question in sheet.questions:
        row: dict[str, object] = {"question_id": question.pk, "points": question.points}
        selected = sheet.answers.get(question.pk)
        if seen.answers:
            row["selected_option"] = selected
        if seen.correct:
            row["correct_option"] = question.correct_option
            row["is_correct"] = selected == question.correct_option
        rows.append(row)
    return {
        "attempt_id": attempt.pk,
        "status": attempt.status,
        "score": score,
        "max_score": max_score,
        "percentage": round(100 * score / max_score, 2) if max_score else 0.0,
        "answered": len(sheet.answers),
        "total_questions": len(sheet.questions),
        "results": rows,
        "review": review(seen),
        "ended_by": ended_by(attempt, forced=sheet.forced),
    }


def ended_by(attempt: Attempt, *, forced: bool) -> str | None:
    """rest.ENDED_BY: who ended the attempt (`forced`: a proctor's force submit ended it), None until it has
    ended (ongoing, or overdue: in its hand-in window)."""
    if attempt.status in (AttemptStatus.ONGOING, AttemptStatus.OVERDUE):
        return None
    if attempt.status == AttemptStatus.TIMEOUT:
        return "time"
    return "proctor" if forced else "student"


def review(seen: Review) -> dict:
    """rest.Review: what a result shows, and what more it will show when."""
    body: dict[str, str | None] = {"shows": seen.shows}
    if seen.later is not None:
        body.update(later=seen.later, waits_for=seen.waits_for)
    return body


def force_submit_ack(sheet: Sheet) -> dict:
    """frames.ForceSubmitAck: the proctor socket's reply to `force_submit`."""
    return {"type": "ack", "action": "force_submit", **result(sheet)}


def ended_frame(attempt: Attempt, *, at: datetime | None = None) -> dict:
    """frames.EndedFrame: `submitted` or `timeout`, however the student hears of the end; frames.OverdueFrame
    for an attempt whose time ran out into its hand-in window."""
    if attempt.is_overdue:
        return overdue_frame(attempt, at=at)
    return {
        "type": ended_kind(attempt),
        "attempt_id": attempt.pk,
        "status": attempt.status,
        "score": attempt.score or 0,
        "max_score": attempt.max_score or 0,
        "deadline": clock.iso(attempt.deadline_at),
        "server_time": clock.iso(at or clock.now()),
    }


def ended_kind(attempt: Attempt) -> str:
    """The type of `ended_frame` for the attempt: `overdue`, `timeout` or `submitted`."""
    if attempt.is_overdue:
        return "overdue"
    return "timeout" if attempt.status == AttemptStatus.TIMEOUT else "submitted"


def overdue_frame(attempt: Attempt, *, at: datetime | None = None) -> dict:
    """frames.OverdueFrame: time is up, the answers are locked, submit by `hand_in_until`."""
    return {
        "type": "overdue",
        "attempt_id": attempt.pk,
        "status": attempt.status,
        "deadline": clock.iso(attempt.deadline_at),
        "hand_in_until": clock.iso(attempt.hand_in_until),
        "server_time": clock.iso(at or clock.now()),
    }


def question_rows(questions: "Iterable[Question]", answers: dict[int, str], seen: Review) -> list[dict]:
    """rest.Question for each question, with answers and correct options as far as `seen` shows them."""
    rows = []
    for question in questions:
        row: dict[str, object] = {
            "id": question.pk,
            "text": question.text,
            "options": question.options,
            "points": question.points,
        }
        if seen.answers:
            row["selected_option"] = answers.get(question.pk)
        if seen.correct:
            row["correct_option"] = question.correct_option
        rows.append(row)
    return rows


def questions(sheet: Sheet) -> dict:
    """rest.Questions: the attempt's questions, with answers and correct options as far as `sheet.review` shows them."""
    attempt = sheet.attempt
    rows = question_rows(sheet.questions, sheet.answers, sheet.review)
    return {
        **timer(attempt),
        "exam_id": attempt.exam_id,
        "exam_title": attempt.exam.title,
        "allowance": allowance(attempt),
        "questions": rows,
    }


# --- Exams ------------------------------------------------------------------------------------


def _exam_summary(listing: ExamListing) -> dict:
    """rest.ExamSummary."""
    exam = listing.exam
    return {
        "id": exam.pk,
        "title": exam.title,
        "description": exam.description,
        "duration_seconds": exam.duration_seconds,
        "max_attempts": exam.max_attempts,
        "opens_at": clock.iso(exam.opens_at),
        "closes_at": clock.iso(exam.closes_at),
        "total_questions": listing.total_questions,
        "review_policy": review_policy(exam),
        "paused_at": clock.iso(exam.paused_at),
        "at_deadline": exam.at_deadline,
        "hand_in_seconds": exam.hand_in_seconds,
        "waiting_room": exam.waiting_room,
        "starts_at": clock.iso(exam.start_instant) if exam.waiting_room else None,
        "late_start": exam.late_start,
        "late_start_minutes": exam.late_start_minutes,
        "late_end": exam.late_end,
    }


def review_policy(exam: Exam) -> dict:
    """rest.ReviewPolicy: what the exam's students see after ending, and when (exams/review.py)."""
    return {"shows": exam.review_shows, "when": exam.review_when, "released_at": clock.iso(exam.review_released_at)}


def student_exams(listings: Iterable[ExamListing]) -> dict:
    """rest.StudentExams: published exams, each with the student's attempts."""
    at = clock.now()
    return {
        "exams": [
            {
                **_exam_summary(listing),
                "attempts": [
                    {
                        **timer(a, at=at),
                        "number": a.number,
                        "score": a.score,
                        "max_score": a.max_score,
                        "ended_by": ended_by(a, forced=a.pk in listing.forced),
                    }
                    for a in listing.attempts
                ],
                "allotted_seconds": listing.allotted_seconds,
                "accommodation_seconds": listing.allotted_seconds - listing.exam.duration_seconds,
                "student_close_at": clock.iso(listing.student_close_at),
            }
            for listing in listings
        ]
    }


def proctor_exam(listing: ExamListing) -> dict:
    """rest.ProctorExam: POST release-review."""
    return {**_exam_summary(listing), "published": listing.exam.published, "ongoing": listing.ongoing}


def proctor_exams(listings: Iterable[ExamListing]) -> dict:
    """rest.ProctorExams."""
    return {"exams": [proctor_exam(listing) for listing in listings]}


def me(user) -> dict:
    """rest.Me."""
    return {"id": user.pk, "username": user.get_username(), "is_staff": user.is_staff}


# --- The proctor's rows -----------------------------------------------------------------------


def proctor_rows(attempts: list[Progress], *, connected: dict[int, bool] | None = None) -> list[dict]:
    """rest.ProctorRow for each attempt (from selectors.proctor_attempts / with_progress).

    `connected` is presence's answer (one Redis round trip, advisory: all False while Redis is
    down), unless the caller knows it already (a presence change: attempt id -> connected).
    """
    if connected is None:
        connected = presence.connected_map(
            p.attempt.pk for p in attempts if p.attempt.is_ongoing or p.attempt.is_overdue
        )
    at = clock.now()
    return [
        {
            **timer(attempt, at=at),
            "exam_id": attempt.exam_id,
            "student": attempt.user.get_username(),
            "answered": answered,
            "total_questions": total_questions,
            "connected": (attempt.is_ongoing or attempt.is_overdue) and connected.get(attempt.pk, False),
            "started_at": clock.iso(attempt.started_at),
            "ended_at": clock.iso(attempt.ended_at),
            "extra_seconds": attempt.extra_seconds,
            "allotted_seconds": attempt.allotted_seconds,
            "accommodation_seconds": attempt.accommodation_seconds,
            "close_at": clock.iso(attempt.close_at),
            "score": attempt.score,
            "max_score": attempt.max_score,
            "last_activity": clock.iso(last_answer_at or attempt.started_at),
            "last_answer_at": clock.iso(last_answer_at),
        }
        for attempt, answered, last_answer_at, total_questions in attempts
    ]


def exam_room(exam_id: int, rows: list[dict]) -> dict:
    """rest.ExamRoom: GET the exam's attempts (the snapshot's body over REST)."""
    return {"exam_id": exam_id, "attempts": rows}


def exam_history(exam_id: int, events: list) -> dict:
    """rest.ExamHistory (from selectors.exam_history)."""
    return {
        "exam_id": exam_id,
        "events": [
            {
                "at": clock.iso(e.at),
                "kind": e.kind,
                "attempt_id": e.attempt_id,
                "student": e.attempt.user.get_username(),
            }
            for e in events
        ],
    }


def bulk_force_submitted(exam_id: int, submitted: list[int], rows: list[dict]) -> dict:
    """rest.BulkForceSubmitted."""
    return {**exam_room(exam_id, rows), "submitted": submitted}


def snapshot_frame(exam_id: int, rows: list[dict], *, since: datetime | None = None) -> dict:
    """frames.SnapshotFrame: a proctor socket's state on connect or resync (rows of rest.ProctorRow, sent
    compactly: an optional field a row lacks is null in its place); with `since`, only the rows changed after it."""
    columns = frames.PROCTOR_COLUMNS
    return {
        "type": "snapshot",
        "exam_id": exam_id,
        "since": clock.iso(since),
        "columns": columns,
        "rows": [[r.get(c) for c in columns] for r in rows],
    }


def attempt_event(kind: str, row: dict) -> dict:
    """frames.AttemptEventFrame: `kind` (frames.ATTEMPT_EVENTS) happened to the row's attempt."""
    return {"type": kind, "attempt": row}


# --- The waiting room and the synchronized start -------------------------------------------------


def waiting_frame(exam: Exam, *, code_accepted: bool, at: datetime | None = None) -> dict:
    """frames.WaitingFrame: the room as a waiting student sees it (`code_accepted`: theirs, or none needed)."""
    return {
        "type": "waiting",
        "exam_id": exam.pk,
        "exam_title": exam.title,
        "duration_seconds": exam.duration_seconds,
        "starts_at": clock.iso(exam.start_instant),
        "code_required": bool(exam.start_code),
        "code_accepted": code_accepted or not exam.start_code,
        "server_time": clock.iso(at or clock.now()),
    }


def start_frame(attempt: Attempt, exam: Exam, rows: list[dict], *, at: datetime | None = None) -> dict:
    """frames.StartFrame: an attempt's questions before its clock starts; `rows` from `question_rows`
    (shared by every attempt seated together; "questions" is last so a sender may splice its encoding)."""
    return {
        "type": "start",
        **timer(attempt, at=at),
        "started_at": clock.iso(attempt.started_at),
        "exam_id": exam.pk,
        "exam_title": exam.title,
        "allowance": allowance(attempt),
        "questions": rows,
    }


def exam_starting_frame(exam_id: int, started_at: datetime) -> dict:
    """frames.ExamStartingFrame: to the exam's proctors when the start is set."""
    return {
        "type": "exam_starting",
        "exam_id": exam_id,
        "started_at": clock.iso(started_at),
        "server_time": clock.iso(clock.now()),
    }


def at_deadline_settings(exam: Exam) -> dict:
    """rest.AtDeadlineSettings."""
    return {"exam_id": exam.pk, "at_deadline": exam.at_deadline, "hand_in_seconds": exam.hand_in_seconds}


def waiting_room(summary: "RoomSummary") -> dict:
    """rest.WaitingRoom: a proctor's view of the room."""
    exam = summary.exam
    return {
        "exam_id": exam.pk,
        "title": exam.title,
        "waiting_room": exam.waiting_room,
        "scheduled_at": clock.iso(exam.starts_at),
        "started_at": clock.iso(exam.started_at),
        "start_code": exam.start_code,
        "checked_in": summary.checked_in,
        "ready": summary.ready,
        "started": summary.started,
        "enrolled": summary.enrolled,
        "server_time": clock.iso(clock.now()),
    }


def start_now_ack(summary: "RoomSummary") -> dict:
    """frames.StartNowAck: the proctor socket's reply to `start_now`."""
    return {"type": "ack", "action": "start_now", **waiting_room(summary)}


def enrollment_change(change: "EnrollmentChange") -> dict:
    """rest.EnrollmentChange."""
    return {
        "exam_id": change.exam_id,
        "changed": change.changed,
        "unchanged": change.unchanged,
        "enrolled": change.enrolled,
    }


def roster(exam_id: int, rows: "list[RosterRow]") -> dict:
    """rest.Roster: the enrolled students and who has not started."""
    return {
        "exam_id": exam_id,
        "enrolled": len(rows),
        "not_started": sum(1 for r in rows if r.status in (NOT_STARTED, WAITING)),
        "students": [
            {"student": r.username, "user_id": r.user_id, "enrolled_at": clock.iso(r.enrolled_at), "state": r.status}
            for r in rows
        ],
    }


# --- Sockets ------------------------------------------------------------------------------------


def auth_ok_frame(expires_at: float) -> dict:
    """frames.AuthOkFrame: a socket's token renewed until `expires_at` (epoch seconds)."""
    return {"type": "auth_ok", "expires_at": clock.iso(datetime.fromtimestamp(expires_at, UTC))}


# --- Errors -------------------------------------------------------------------------------------


def error(code: str, message: str) -> dict:
    """rest.Error: every REST error body."""
    return {"error": {"code": code, "message": _printable(message)}}


def _printable(message: str) -> str:
    """A message that may quote the client's input, its control characters escaped (`\\u0000`):
    the contract's text has no NUL, and a person reads the rest."""
    return "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) == "Cc" and c not in "\n\t" else c for c in message)


def error_frame(code: str, message: str, request_id=None) -> dict:
    """frames.ErrorFrame."""
    frame = {"type": "error", "code": code, "message": _printable(message)}
    if request_id is not None:
        frame["request_id"] = request_id
    return frame


# --- Time rules (exams/time_rules.py) -------------------------------------------------------------


def accommodation(row: Accommodation) -> dict:
    """rest.Accommodation (with its user and set_by selected)."""
    return {
        "id": row.pk,
        "username": row.user.get_username(),
        "exam_id": row.exam_id,
        "multiplier": float(row.multiplier),
        "extra_seconds": row.extra_seconds,
        "reason": row.reason,
        "set_by": row.created_by.get_username() if row.created_by else None,
        "updated_at": clock.iso(row.updated_at),
    }


def accommodations(rows: Iterable[Accommodation]) -> dict:
    """rest.Accommodations."""
    return {"accommodations": [accommodation(row) for row in rows]}


def _rule_change(change: "RuleChange") -> dict:
    return {"applied_attempts": [a.pk for a in change.applied], "not_applied": change.not_applied}


def accommodation_change(change: "RuleChange") -> dict:
    """rest.AccommodationChange."""
    rule = change.rule
    return {
        "accommodation": accommodation(rule) if isinstance(rule, Accommodation) else None,
        **_rule_change(change),
    }


def import_report(report: "ImportReport") -> dict:
    """rest.ImportReport."""
    return {"created": report.created, "updated": report.updated, "applied": report.applied, "refused": report.refused}


def close_override(row: CloseOverride) -> dict:
    """rest.CloseOverride."""
    return {
        "id": row.pk,
        "username": row.user.get_username(),
        "exam_id": row.exam_id,
        "close_at": clock.iso(row.close_at),
        "reason": row.reason,
        "set_by": row.created_by.get_username() if row.created_by else None,
        "updated_at": clock.iso(row.updated_at),
    }


def close_overrides(rows: Iterable[CloseOverride]) -> dict:
    """rest.CloseOverrides."""
    return {"close_overrides": [close_override(row) for row in rows]}


def close_override_change(change: "RuleChange") -> dict:
    """rest.CloseOverrideChange."""
    rule = change.rule
    return {
        "close_override": close_override(rule) if isinstance(rule, CloseOverride) else None,
        **_rule_change(change),
    }


def audit_log(explanation: "Explanation") -> dict:
    """rest.AuditLog: an attempt's deadline explained line by line (exams/audit.py)."""
    attempt = explanation.attempt
    return {
        "attempt_id": attempt.pk,
        "exam_id": attempt.exam_id,
        "student": attempt.user.get_username(),
        "status": attempt.status,
        "deadline": clock.iso(attempt.deadline_at),
        "explained_deadline": clock.iso(explanation.deadline),
        "consistent": explanation.consistent,
        "lines": [
            {
                "at": clock.iso(line.at),
                "kind": line.kind,
                "text": line.text,
                "by": line.by,
                "reason": line.reason,
                "seconds": line.seconds,
                "end": clock.iso(line.end),
            }
            for line in explanation.lines
        ],
    }
