"""Property-based proof that no one loses time (issue 11 §6), on the real services, database and Redis.

Hypothesis draws random timelines: an accommodation and a close override set before the start,
then the start, waits, grants (with each past-close choice), close overrides and accommodations
applied to the running attempt, pauses, time changes in minutes and in percent of the allotted time,
and reopenings (the student submits, time passes, a proctor reopens it for some minutes). Time passes
by moving the whole attempt into the past (its start, close, events: every instant it holds), as the
other tests move deadlines instead of sleeping.

A model written here, independent of exams/deadlines.py, says what the attempt is owed; after each
timeline the test asserts that:
- its answerable time (end - start - pauses) is its allotted time plus its grants, clamped only by
  its effective close, within 1 s (and a reopening's slack); the audit log explains the same end;
- an answer received at the end + grace is stored, one a millisecond later is refused and not stored.

Pauses (a pause, time passing, the resume), time changes and reopenings are exams/time_control.py's.
A reopening's new end is "`minutes` from now" on the server's clock: the model takes "now" from the
wall clock just before the call (a lower bound) and allows for the call's duration plus the grant's
rounding up to a whole second (`Owed.slack`); operations that land within that of an edge are skipped.
"""

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from django.db.models import F
from hypothesis import event, given, settings
from hypothesis import strategies as st

from exams import audit, clock, deadlines, services, time_control, time_rules
from exams.errors import Conflict, TimeUp
from exams.models import Accommodation, Answer, Attempt, AttemptEvent, AttemptStatus, CloseOverride, Question
from tests.support.hypothesis_profile import REAL_SERVICES

pytestmark = pytest.mark.django_db

DURATION = 1800
SECOND = timedelta(seconds=1)
MULTIPLIERS = ["1", "1.25", "1.5", "2"]

# --- Operations -----------------------------------------------------------------------------------

waits = st.builds(lambda s: ("wait", s), st.integers(min_value=1, max_value=1200))
grants = st.builds(
    lambda s, choice: ("grant", s, choice),
    st.integers(min_value=1, max_value=3600),
    st.sampled_from(["none", "move", "keep"]),
)
overrides = st.builds(lambda s: ("close", s), st.integers(min_value=90, max_value=4 * 3600))
accommodations = st.builds(
    lambda m, extra: ("accommodate", m, extra), st.sampled_from(MULTIPLIERS), st.integers(min_value=0, max_value=900)
)
pauses = st.builds(lambda s: ("pause", s), st.integers(min_value=1, max_value=1800))
changes = st.builds(
    lambda m, choice, unit: ("change", m, choice, unit),
    st.integers(min_value=-20, max_value=60).filter(bool),
    st.sampled_from(["none", "move", "keep"]),
    st.sampled_from(["minutes", "percent"]),
)
reopenings = st.builds(
    lambda gap, minutes, choice: ("reopen", gap, minutes, choice),
    st.integers(min_value=0, max_value=1800),
    st.integers(min_value=2, max_value=90),
    st.sampled_from(["none", "move", "keep"]),
)
operations = st.lists(st.one_of(waits, grants, overrides, accommodations, pauses, changes, reopenings), max_size=8)
# Reopenings and percent changes, with what moves time around them, in every timeline.
percent_changes = st.builds(
    lambda p, choice: ("change", p, choice, "percent"),
    st.integers(min_value=-30, max_value=100).filter(bool),
    st.sampled_from(["none", "move", "keep"]),
)
_around = st.lists(st.one_of(reopenings, percent_changes, waits, grants, pauses), max_size=3)
reopening_timelines = st.tuples(_around, reopenings, _around).map(lambda t: [*t[0], t[1], *t[2]])
before_start = st.fixed_dictionaries(
    {
        "multiplier": st.none() | st.sampled_from(MULTIPLIERS),
        "extra": st.integers(min_value=0, max_value=900),
        "exam_close": st.none() | st.integers(min_value=120, max_value=4 * 3600),
        "override": st.none() | st.integers(min_value=120, max_value=4 * 3600),
    }
)


# --- The model ------------------------------------------------------------------------------------


@dataclass
class Owed:
    """What the attempt is owed, in seconds relative to its start (its own arithmetic, not the server's)."""

    allotted: int
    close: float | None  # answerable seconds after the start (a pause moves it nearer); None: no close
    grants: float = 0  # net, in seconds (a reopening's is "minutes from now" less the end it had)
    elapsed: float = 0.0  # answerable time used so far (a pause does not use any)
    slack: float = 0.0  # how much later than end() the server's end may be (reopenings: their clock and rounding)
    log: list = field(default_factory=list)

    def end(self) -> float:
        nominal = self.allotted + self.grants
        return nominal if self.close is None else min(nominal, self.close)

    def left(self) -> float:
        return self.end() - self.elapsed


def share(allotted_seconds: int, percent: int) -> int:
    """`percent` of an allotted time in whole seconds, rounded half away from zero (the model's own arithmetic)."""
    whole = math.floor(Fraction(allotted_seconds * abs(percent), 100) + Fraction(1, 2))
    return whole if percent > 0 else -whole


def near(owed: Owed, a: float, b: float) -> bool:
    """Too near an edge to call, for a clock that moves while this runs and an end known to `slack`."""
    return abs(a - b) < 2 + owed.slack


def allotted(multiplier: str | None, extra: int) -> int:
    if multiplier is None:
        return DURATION
    return math.ceil(DURATION * Decimal(multiplier)) + extra


def advance(attempt: Attempt, seconds: float) -> None:
    """Let `seconds` pass for this attempt: every instant it holds moves that far into the past."""
    # Whole milliseconds: events record instants to the millisecond, and so must move by them.
    shift = timedelta(milliseconds=round(seconds * 1000))
    Attempt.objects.filter(pk=attempt.pk).update(
        started_at=F("started_at") - shift,
        deadline_at=F("deadline_at") - shift,
        close_at=F("close_at") - shift,
        paused_at=F("paused_at") - shift,
    )
    AttemptEvent.objects.filter(attempt=attempt).update(at=F("at") - shift)
    CloseOverride.objects.filter(user=attempt.user, exam=attempt.exam).update(close_at=F("close_at") - shift)
    for logged in AttemptEvent.objects.filter(attempt=attempt).exclude(detail={}):
        # Instants recorded in events' details move with them.
        changed = {k: _shift_iso(v, shift) for k, v in logged.detail.items() if k in ("close_at", "from", "to")}
        if changed:
            AttemptEvent.objects.filter(pk=logged.pk).update(detail={**logged.detail, **changed})


def _shift_iso(value, shift: timedelta):
    if not value:
        return value
    return clock.iso(datetime.fromisoformat(value.replace("Z", "+00:00")) - shift)


# --- The property -----------------------------------------------------------------------------------


@settings(REAL_SERVICES, max_examples=30)
@given(setup=before_start, ops=operations)
def test_answerable_time_is_allotted_plus_grants_clamped_only_by_the_close(setup, ops, make_user, proctor, make_exam):
    run_timeline(setup, ops, make_user(), proctor, make_exam)


@settings(REAL_SERVICES, max_examples=20)
@given(setup=before_start, ops=reopening_timelines)
def test_reopened_and_percent_changed_attempts_keep_the_same_property(setup, ops, make_user, proctor, make_exam):
    """Every timeline reopens the attempt at least once (submitted, time passing, reopened for some minutes,
    with each past-close choice) among percent changes, grants, waits and pauses."""
    run_timeline(setup, ops, make_user(), proctor, make_exam)


def run_timeline(setup: dict, ops: list, student, proctor, make_exam) -> None:
    """Start an attempt as `setup` says, apply `ops`, and check what it is owed, the audit and the answers' edge."""
    now = clock.now()
    exam_close = None if setup["exam_close"] is None else now + timedelta(seconds=setup["exam_close"])
    exam = make_exam(duration=DURATION, closes_at=exam_close)
    if setup["multiplier"] is not None:
        time_rules.set_accommodation(
            by=proctor,
            username=student.username,
            exam_id=exam.pk,
            multiplier=Decimal(setup["multiplier"]),
            extra_seconds=setup["extra"],
            reason="property",
        )
    close = exam_close
    if setup["override"] is not None:
        close = now + timedelta(seconds=setup["override"])
        time_rules.set_close_override(
            by=proctor, username=student.username, exam_id=exam.pk, close_at=close, reason="property"
        )
    attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt
    attempt.refresh_from_db()
    owed = Owed(
        allotted(setup["multiplier"], setup["extra"]),
        None if close is None else (close - attempt.started_at).total_seconds(),
    )

    for op in ops:
        if owed.left() < 60:
            break  # the attempt is about to end: the rest of the timeline is after it
        apply(op, attempt, owed, proctor, student)

    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.ONGOING, owed.log
    answerable = (attempt.deadline_at - attempt.started_at - attempt.paused_total).total_seconds()
    assert -1 <= answerable - owed.end() <= 1 + owed.slack, (answerable, owed, owed.log)
    assert attempt.allotted_seconds == owed.allotted
    explained = audit.explain(attempt)
    assert explained.consistent, [line.text for line in explained.lines]

    # Answers at the edge of the window: in at end + grace, out a millisecond later.
    question = Question.objects.filter(exam=exam).first()
    edge = attempt.deadline_at + deadlines.grace()
    services.save_answer(
        user=student, attempt_id=attempt.pk, question_id=question.pk, selected_option="B", received_at=edge
    )
    with pytest.raises(TimeUp):
        services.save_answer(
            user=student,
            attempt_id=attempt.pk,
            question_id=question.pk,
            selected_option="A",
            received_at=edge + timedelta(milliseconds=1),
        )
    assert Answer.objects.get(attempt=attempt, question=question).selected_option == "B"


def apply(op, attempt: Attempt, owed: Owed, proctor, student) -> None:
    """Do `op` through the real services and update what the model says is owed."""
    owed.log.append(op)
    kind = op[0]
    event(kind if kind != "change" else f"change ({op[3]})")
    if kind == "wait":
        # Leave half a minute: on a loaded machine the next operations must not outlive the attempt.
        seconds = round(min(op[1], owed.left() - 30), 3)
        advance(attempt, seconds)
        owed.elapsed += seconds
    elif kind == "grant":
        _, seconds, choice = op
        nominal = owed.allotted + owed.grants + seconds
        past = owed.close is not None and nominal > owed.close
        if owed.close is not None and near(owed, nominal, owed.close):
            return
        try:
            services.extend_attempt(
                attempt_id=attempt.pk,
                seconds=seconds,
                by=proctor,
                close=None if choice == "none" else choice,
            )
        except Conflict as refused:
            assert past and choice == "none" and refused.code == "past_close", (op, owed)
            return
        assert not (past and choice == "none"), (op, owed)
        owed.grants += seconds
        if past and choice == "move":
            owed.close = nominal
    elif kind == "close":
        close = clock.now() + timedelta(seconds=op[1])
        attempt.refresh_from_db()
        time_rules.set_close_override(
            by=proctor, username=student.username, exam_id=attempt.exam_id, close_at=close, reason="property"
        )
        fresh = Attempt.objects.get(pk=attempt.pk)
        owed.close = (close - fresh.started_at - fresh.paused_total).total_seconds()
    elif kind == "pause":
        time_control.pause(by=proctor, exam_id=attempt.exam_id, category="environment", attempt_ids=[attempt.pk])
        advance(attempt, op[1])  # however long: a paused attempt is never due
        time_control.resume(by=proctor, exam_id=attempt.exam_id, attempt_ids=[attempt.pk])
        if owed.close is not None:
            owed.close -= op[1]  # the close did not move: less of it is answerable
    elif kind == "change":
        _, amount, choice, unit = op
        seconds = amount * 60 if unit == "minutes" else share(owed.allotted, amount)
        nominal = owed.allotted + owed.grants + seconds
        if owed.close is not None and seconds > 0 and near(owed, nominal, owed.close):
            return
        past = owed.close is not None and nominal > owed.close and seconds > 0
        end = nominal if choice == "move" or owed.close is None else min(nominal, owed.close)
        short = seconds < 0 and end - owed.elapsed < 60
        if seconds < 0 and abs(end - owed.elapsed - 60) < 2:
            return  # too near the one-minute rule's edge for a clock that moves while this runs
        try:
            time_control.change_time(
                by=proctor,
                exam_id=attempt.exam_id,
                unit=unit,
                amount=amount,
                attempt_ids=[attempt.pk],
                close=None if choice == "none" else choice,
            )
        except Conflict as refused:
            expected = "too_short" if short else "past_close"
            assert (short or (past and choice == "none")) and refused.code == expected, (op, owed, refused.code)
            return
        assert not short and not (past and choice == "none"), (op, owed)
        owed.grants += seconds
        if choice == "move" and seconds > 0 and owed.close is not None:
            owed.close = max(owed.close, nominal)
    elif kind == "reopen":
        reopen(op, attempt, owed, proctor, student)
    elif kind == "accommodate":
        _, multiplier, extra = op
        new = allotted(multiplier, extra)
        shrink_end = min(new + owed.grants, owed.close if owed.close is not None else math.inf)
        too_short = new < owed.allotted and shrink_end - owed.elapsed < 60
        if new < owed.allotted and abs(shrink_end - owed.elapsed - 60) < 2:
            return  # too near the one-minute rule's edge for a clock that moves while this runs
        existing = Accommodation.objects.filter(user=student, exam=attempt.exam_id).first()
        try:
            if existing is None:
                time_rules.set_accommodation(
                    by=proctor,
                    username=student.username,
                    exam_id=attempt.exam_id,
                    multiplier=Decimal(multiplier),
                    extra_seconds=extra,
                    reason="property",
                    apply_to_running=True,
                )
            else:
                time_rules.update_accommodation(
                    by=proctor,
                    accommodation_id=existing.pk,
                    multiplier=Decimal(multiplier),
                    extra_seconds=extra,
                    apply_to_running=True,
                )
        except Conflict as refused:
            assert too_short and refused.code == "too_short", (op, owed)
            return
        assert not too_short, (op, owed)
        owed.allotted = new


def _answerable_now(attempt: Attempt) -> tuple[float, datetime]:
    """Now in the attempt's answerable time (no pause is in progress), from the wall clock just before a call:
    a lower bound of the server's now. Returns it and that instant."""
    fresh = Attempt.objects.get(pk=attempt.pk)
    before = clock.now()
    return (before - fresh.started_at - fresh.paused_total).total_seconds(), before


def reopen(op, attempt: Attempt, owed: Owed, proctor, student) -> None:
    """The student submits, `gap` seconds pass, a proctor reopens the attempt for `minutes` from then."""
    _, gap, minutes, choice = op
    services.submit_attempt(user=student, attempt_id=attempt.pk)
    advance(attempt, gap)  # the time passes for the attempt as for anyone: no one gives it back
    owed.elapsed += gap
    now, before = _answerable_now(attempt)
    end = now + minutes * 60
    past = owed.close is not None and end > owed.close
    short = past and choice == "keep" and owed.close - now < 60
    edgy = owed.close is not None and (near(owed, end, owed.close) or near(owed, owed.close - now, 60))
    if not edgy:
        try:
            time_control.reopen(
                by=proctor,
                attempt_id=attempt.pk,
                minutes=minutes,
                reason="property",
                close=None if choice == "none" else choice,
            )
        except Conflict as refused:
            expected = "too_short" if short else "past_close"
            assert (short or (past and choice == "none")) and refused.code == expected, (op, owed, refused.code)
        else:
            assert not short and not (past and choice == "none"), (op, owed)
            _reopened(owed, now, before, end, moved=past and choice == "move")
            return
    # Refused (nothing changed), or too near an edge to call: the proctor reopens it moving the close.
    now, before = _answerable_now(attempt)
    end = now + minutes * 60
    time_control.reopen(by=proctor, attempt_id=attempt.pk, minutes=minutes, reason="property", close="move")
    _reopened(owed, now, before, end, moved=True)


def _reopened(owed: Owed, now: float, before: datetime, end: float, *, moved: bool) -> None:
    owed.elapsed = max(owed.elapsed, now)
    owed.grants = end - owed.allotted
    # The server's now is later by up to the call's duration, and its grant is rounded up to a second.
    owed.slack += (clock.now() - before).total_seconds() + 1
    if moved and owed.close is not None:
        owed.close = max(owed.close, end)
