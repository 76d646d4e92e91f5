"""An attempt's deadline explained line by line from its AttemptEvents (issue 11 §6).

Every time change writes an event with who and why in its `detail` (the start with its allotted
time and close, accommodations applied, grants, pauses, close moves, reopenings). `explain` replays
them through the one deadline function (exams/deadlines.py) and says whether the replay reproduces
the stored `deadline_at`: a change that wrote no event, or the wrong one, shows as `consistent: false`.
"""

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from . import clock, deadlines
from .models import Attempt, AttemptEvent, EventKind, ExamEvent

# Events that say nothing about time: left out of the explanation.
_SILENT = {EventKind.ANSWER_SAVED, EventKind.CONNECTED, EventKind.DISCONNECTED, EventKind.RESUMED}
# Pauses, by kind name (issue 11 §4, exams/time_control.py): a pause begins, a pause ends.
PAUSE_KINDS = {"paused"}
UNPAUSE_KINDS = {"unpaused", "pause_ended"}
REOPEN_KINDS = {"reopened"}


@dataclass
class Line:
    """One step of the explanation: when, what, who and why, and where it left the end."""

    at: datetime
    kind: str
    text: str
    by: str = ""
    reason: str = ""
    seconds: int = 0  # how far this step moved the end (0: it did not)
    end: datetime | None = None  # the deadline after this step (None while paused)


@dataclass
class Explanation:
    attempt: Attempt
    lines: list[Line] = field(default_factory=list)
    deadline: datetime | None = None  # the replay's

    @property
    def consistent(self) -> bool:
        """The replay reproduces the stored deadline (to the millisecond the API shows)."""
        if self.deadline is None:
            return False
        return clock.to_ms(self.deadline) == clock.to_ms(self.attempt.deadline_at)


def _minutes(seconds: float) -> str:
    sign = "-" if seconds < 0 else ""
    seconds = abs(round(seconds))
    minutes, rest = divmod(seconds, 60)
    return f"{sign}{minutes} min" + (f" {rest} s" if rest else "")


def _when(at: datetime | None) -> str:
    return "no close" if at is None else clock.iso(at) or ""


def _parse(value) -> datetime | None:
    return None if not value else datetime.fromisoformat(value.replace("Z", "+00:00"))


class _Replay:
    """The timeline's five fields, moved by each event in turn."""

    def __init__(self, attempt: Attempt) -> None:
        self.started_at = attempt.started_at
        self.allotted = attempt.allotted_seconds
        self.extra = 0
        self.paused_total = timedelta(0)
        self.paused_at: datetime | None = None
        self.close = attempt.close_at

    def deadline(self) -> datetime:
        return deadlines.attempt_deadline(self.started_at, self.allotted, self.extra, self.paused_total, self.close)


EXAM_RESUMED = "exam_resumed"


def _moved_every_close(detail: dict) -> bool:
    """An exam-wide resume sent with `close: move` (stored before that vocabulary as `move_close: true`)."""
    return detail.get("close") == "move" or bool(detail.get("move_close"))


def _kept_the_close(detail: dict) -> bool:
    """A grant past the close sent with `close: keep` (stored before that vocabulary as `past_close: clamp`)."""
    return detail.get("close") == "keep" or detail.get("past_close") == "clamp"


def _grant_moved_the_close(detail: dict) -> bool:
    """A grant sent with `close: move` (a single extend stored before that vocabulary: `past_close: move_close`)."""
    return detail.get("close") == "move" or detail.get("past_close") == "move_close"


def close_moving_exam_events(exam_id: int) -> list[ExamEvent]:
    """The exam's resumes that moved every unfinished attempt's close by the paused time."""
    return [
        e
        for e in ExamEvent.objects.filter(exam_id=exam_id, kind=EXAM_RESUMED).order_by("id")
        if _moved_every_close(e.detail or {})
    ]


def _as_attempt_event(event: ExamEvent) -> AttemptEvent:
    detail = {**(event.detail or {}), "by": event.by.get_username() if event.by_id and event.by else ""}
    return AttemptEvent(kind=EXAM_RESUMED, at=event.at, detail=detail)


def explain(
    attempt: Attempt, events: Iterable[AttemptEvent] | None = None, exam_events: list[ExamEvent] | None = None
) -> Explanation:
    """The attempt's deadline, line by line from its events, and whether it matches `deadline_at`."""
    if events is None:
        events = AttemptEvent.objects.filter(attempt=attempt).order_by("id")
    events = list(events)
    if exam_events is None:
        exam_events = close_moving_exam_events(attempt.exam_id)
    if exam_events and events:
        # An exam-wide resume that moved every unfinished attempt's close (before its pauses' ends).
        last = attempt.ended_at or events[-1].at
        moved = [_as_attempt_event(e) for e in exam_events if events[0].at < e.at <= last]
        events = sorted(events + moved, key=lambda e: (e.at, e.kind != EXAM_RESUMED))
    replay = _Replay(attempt)
    result = Explanation(attempt)
    for event in events:
        line = _step(replay, event, attempt)
        if line is None:
            continue
        line.end = None if replay.paused_at is not None else replay.deadline()
        result.lines.append(line)
    result.deadline = replay.deadline()
    return result


def _close_follows(replay: _Replay, detail: dict, *, reopening: bool = False) -> None:
    """A grant made with `close: move` (exams/time_control.py) moved the close to the new end if past it;
    a shortening moves no close, but a reopening does (its "minutes from now" can be a net shortening of
    an attempt submitted early, and still run past a close that has come nearer)."""
    grew = int(detail.get("seconds", 0)) > 0 or reopening
    if _grant_moved_the_close(detail) and replay.close is not None and grew:
        nominal = deadlines.attempt_deadline(
            replay.started_at, replay.allotted, replay.extra, replay.paused_total, None
        )
        replay.close = max(replay.close, nominal)


def _step(replay: _Replay, event: AttemptEvent, attempt: Attempt) -> Line | None:
    d = event.detail or {}
    by, reason = str(d.get("by") or ""), str(d.get("reason") or "")
    before = replay.deadline()
    kind = event.kind
    if kind == EventKind.STARTED:
        replay.allotted = d.get("allotted_seconds", attempt.allotted_seconds)
        if "close_at" in d:
            replay.close = _parse(d["close_at"])
        duration = d.get("duration_seconds")
        text = f"started: allotted {_minutes(replay.allotted)}"
        accommodation = d.get("accommodation")
        if accommodation:
            text += (
                f" = {_minutes(duration or 0)} x {accommodation['multiplier']}"
                f" + {_minutes(accommodation['extra_seconds'])} (accommodation: {accommodation['reason']})"
            )
            reason = reason or accommodation["reason"]
        text += f"; close {_when(replay.close)}"
        if d.get("close_source"):
            text += f" ({d['close_source']})"
        return Line(event.at, kind, text, by, reason, 0)
    if kind == EventKind.ACCOMMODATION_APPLIED:
        replay.allotted = d["allotted_to"]
        text = f"accommodation applied to the running attempt: allotted {_minutes(d['allotted_from'])} -> " + _minutes(
            d["allotted_to"]
        )
    elif kind in (EventKind.EXTENDED, "time_changed"):
        replay.extra += int(d.get("seconds", 0))
        _close_follows(replay, d)
        verb = "granted" if int(d.get("seconds", 0)) >= 0 else "taken"
        text = f"{_minutes(abs(int(d.get('seconds', 0))))} {verb}"
        if d.get("scope"):
            text += f" ({d['scope']})"
        if _kept_the_close(d) and kind == EventKind.EXTENDED:
            text += ", the close kept (the time stops at it)"
    elif kind == EventKind.CLOSE_MOVED:
        to = _parse(d.get("to"))
        # `to` is to the millisecond; a close the replay already moved there (a grant's `close: move`) is exact.
        if to is None or replay.close is None or clock.to_ms(replay.close) != clock.to_ms(to):
            replay.close = to
        text = f"close moved {_when(_parse(d.get('from')))} -> {_when(replay.close)} (via {d.get('via', '?')})"
    elif kind in PAUSE_KINDS:
        replay.paused_at = event.at
        text = "paused" + (f" ({d['category']})" if d.get("category") else "")
        return Line(event.at, kind, text, by, reason, 0)
    elif kind in UNPAUSE_KINDS:
        if replay.paused_at is not None:
            replay.paused_total += event.at - replay.paused_at
            paused_for = event.at - replay.paused_at
            replay.paused_at = None
            text = f"resumed after {_minutes(paused_for.total_seconds())} paused"
        else:
            text = "resumed (no pause recorded)"
    elif kind in REOPEN_KINDS:
        replay.extra += int(d.get("seconds", 0))
        _close_follows(replay, d, reopening=True)
        text = f"reopened for {d.get('minutes', '?')} min from then ({_minutes(int(d.get('seconds', 0)))} granted)"
    elif kind == EXAM_RESUMED:
        if replay.close is not None:
            exact = d.get("paused_us")  # stored since the close vocabulary; paused_ms before
            replay.close += (
                timedelta(microseconds=int(exact))
                if exact is not None
                else timedelta(milliseconds=int(d.get("paused_ms", 0)))
            )
        text = f"the exam's pause of {_minutes(int(d.get('paused_ms', 0)) / 1000)} moved the close"
    elif kind in _SILENT:
        return None
    elif kind in (EventKind.SUBMITTED, EventKind.FORCE_SUBMITTED, EventKind.TIMED_OUT, EventKind.OVERDUE):
        text = {"submitted": "submitted", "force_submitted": "submitted by a proctor", "timed_out": "timed out"}.get(
            kind, kind
        )
        if event.lateness_ms is not None:
            text += f" ({event.path}, {event.lateness_ms} ms after the deadline)"
        return Line(event.at, kind, text, by, reason, 0)
    else:
        return Line(event.at, kind, kind.replace("_", " "), by, reason, 0)
    moved = round((replay.deadline() - before).total_seconds()) if replay.paused_at is None else 0
    return Line(event.at, kind, text, by, reason, moved)


CSV_HEADER = ["attempt_id", "student", "at", "kind", "text", "by", "reason", "seconds", "end", "consistent"]


def csv_rows(explanations: Iterable[Explanation]) -> Iterator[str]:
    """CSV text, a header then one row per line of each explanation."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_HEADER)
    yield flush()
    for explanation in explanations:
        attempt = explanation.attempt
        for line in explanation.lines:
            writer.writerow(
                [
                    attempt.pk,
                    attempt.user.get_username(),
                    clock.iso(line.at),
                    line.kind,
                    line.text,
                    line.by,
                    line.reason,
                    line.seconds,
                    clock.iso(line.end),
                    explanation.consistent,
                ]
            )
        yield flush()


def exam_explanations(exam_id: int, *, chunk: int = 500) -> Iterator[Explanation]:
    """Every attempt of the exam explained, reading a chunk of attempts (and their events) at a time."""
    last = 0
    moved = close_moving_exam_events(exam_id)
    while True:
        attempts = list(
            Attempt.objects.select_related("user").filter(exam_id=exam_id, pk__gt=last).order_by("pk")[:chunk]
        )
        if not attempts:
            return
        events: dict[int, list[AttemptEvent]] = {}
        for event in AttemptEvent.objects.filter(attempt__in=attempts).exclude(kind__in=_SILENT).order_by("id"):
            events.setdefault(event.attempt_id, []).append(event)
        for attempt in attempts:
            yield explain(attempt, events.get(attempt.pk, []), moved)
        last = attempts[-1].pk
