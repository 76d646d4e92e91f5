"""The deadline rule: when an attempt's time is up, and how much of it is left.

An attempt is *due* once the time is strictly past its deadline plus the answer grace
(settings.EXAM["ANSWER_GRACE_SECONDS"]): an answer received at exactly deadline + grace still
counts, one a microsecond later does not. Every check of "is it due?" goes through here: the
database filters (`AttemptQuerySet.due` / `.live` in models.py), the services' checks, the
Redis timer TTLs and claims (in epoch ms), and the ticker (in epoch µs, on its hot path).
A new time rule (a pause, an accommodation) is written here once.

An attempt's deadline is the output of one function of its timeline, `attempt_deadline`, and
of its SQL twin `deadline_expression` for UPDATEs of many rows; `timeline_update` is the only
way a timeline field changes, so `deadline_at` is always rewritten by the same statement.
"""

import math
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    BigIntegerField,
    DateTimeField,
    DurationField,
    Expression,
    ExpressionWrapper,
    F,
    Func,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Least

from . import clock

_SECOND = timedelta(seconds=1)
_MICROSECOND = timedelta(microseconds=1)


# --- The grace -------------------------------------------------------------------------


def grace_seconds() -> float:
    """How long after the deadline an answer still counts (and expiry waits)."""
    return settings.EXAM["ANSWER_GRACE_SECONDS"]


def grace() -> timedelta:
    return timedelta(seconds=grace_seconds())


def grace_us() -> int:
    return grace() // _MICROSECOND


def grace_ms() -> int:
    """The grace in whole milliseconds, rounded up: Redis must not find an attempt due early."""
    return -(-grace_us() // 1000)


# --- Is it due? ------------------------------------------------------------------------


def is_due(deadline: datetime, at: datetime) -> bool:
    """True once `at` is past `deadline` + grace: the attempt times out, answers are refused."""
    return at > deadline + grace()


def due_cutoff(now: datetime) -> datetime:
    """Deadlines strictly before this are due at `now` (the same rule, turned round for a filter)."""
    return now - grace()


def due_at_ms(deadline_ms: int) -> int:
    """The first epoch millisecond at which an attempt whose deadline is `deadline_ms` is due.

    `deadline_ms` is the deadline floored to the millisecond (clock.to_ms), so Redis, which only
    knows milliseconds, never finds an attempt due before the database does.
    """
    return deadline_ms + grace_ms() + 1


def latest_due_ms(now_ms: int) -> int:
    """The latest deadline (epoch ms) that is due at `now_ms`: the inverse of `due_at_ms`."""
    return now_ms - grace_ms() - 1


# --- What is left ----------------------------------------------------------------------


def remaining_seconds(deadline: datetime, at: datetime | None = None) -> int:
    """Whole seconds left to the deadline, rounded up so a running clock never shows 0 early; never below 0."""
    left = deadline - (at or clock.now())
    return max(0, -(-left // _SECOND))


def remaining_seconds_us(deadline_us: int, now_us: int) -> int:
    """`remaining_seconds` on epoch microseconds (clock.to_us): the ticker's allocation-light form."""
    return max(0, -((now_us - deadline_us) // 1_000_000))


# --- The ticker's backup expiry --------------------------------------------------------


def settle_cutoff_us(now_us: int) -> int:
    """Deadlines (epoch µs) strictly before this are due and overdue by ON_ACCESS_SLACK_SECONDS at `now_us`.

    A socket process that heard no end by then settles the attempt itself: by then the listener
    should have timed it out, and the attempt is due, so the settle times it out.
    """
    return now_us - grace_us() - round(settings.EXAM["ON_ACCESS_SLACK_SECONDS"] * 1_000_000)


# --- The timeline: an attempt's deadline -------------------------------------------------


def allotted_seconds(duration_seconds: int, multiplier: Decimal | float = 1, extra_seconds: int = 0) -> int:
    """An attempt's allotted time at its start: the exam's duration x the accommodation's multiplier
    + its extra time, in whole seconds (rounded up: an accommodation never loses a fraction)."""
    return math.ceil(Decimal(duration_seconds) * Decimal(str(multiplier))) + extra_seconds


def attempt_deadline(
    started_at: datetime,
    allotted_seconds: int,
    extra_seconds: int,
    paused_total: timedelta,
    close_at: datetime | None,
) -> datetime:
    """THE deadline rule: start + allotted + net grants + completed pauses, clamped by the attempt's close.

    A pause in progress is not counted: it is added to `paused_total` when it ends, which moves
    the deadline by exactly its length. While paused the attempt is never due (models.AttemptQuerySet).
    """
    nominal = started_at + timedelta(seconds=allotted_seconds + extra_seconds) + paused_total
    return nominal if close_at is None else min(nominal, close_at)


class Microseconds(Func):
    """A DurationField as whole microseconds: how MySQL/MariaDB and SQLite store it (a bigint), so no SQL is needed."""

    template = "%(expressions)s"
    output_field = BigIntegerField()


def deadline_expression(
    *,
    started_at: Expression | datetime | None = None,
    allotted_seconds: Expression | int | None = None,
    extra_seconds: Expression | int | None = None,
    paused_total: Expression | timedelta | None = None,
    close_at: Expression | datetime | None = None,
    clear_close: bool = False,
) -> Expression:
    """`attempt_deadline` as a database expression over each row's timeline, for `UPDATE ... SET deadline_at = ...`
    (tests/exams/test_timeline.py proves the two agree on MariaDB and SQLite).

    Each argument replaces that field (an expression of the row's OLD values, or a value) where the
    same UPDATE changes it; `clear_close` sets no close.
    """

    def arg(value, name: str):
        if value is None:
            return F(name)
        return value if hasattr(value, "resolve_expression") else _value(value, name)

    # Signed: MySQL refuses an unsigned (PositiveIntegerField) + a negative grant as out of range.
    seconds = Cast(arg(allotted_seconds, "allotted_seconds"), BigIntegerField()) + arg(extra_seconds, "extra_seconds")
    micros = ExpressionWrapper(
        seconds * 1_000_000 + Microseconds(arg(paused_total, "paused_total")), output_field=BigIntegerField()
    )
    nominal = ExpressionWrapper(
        arg(started_at, "started_at") + ExpressionWrapper(micros, output_field=DurationField()),
        output_field=DateTimeField(),
    )
    if clear_close:
        return nominal
    # LEAST with a NULL is NULL on MySQL: no close compares the nominal end with itself.
    return Least(nominal, Coalesce(arg(close_at, "close_at"), nominal), output_field=DateTimeField())


def _value(value, name: str) -> Expression:

    fields = {
        "started_at": DateTimeField(),
        "close_at": DateTimeField(),
        "paused_total": DurationField(),
        "allotted_seconds": BigIntegerField(),
        "extra_seconds": BigIntegerField(),
    }
    return Value(value, output_field=fields[name])


TIMELINE_FIELDS = ("started_at", "allotted_seconds", "extra_seconds", "paused_total", "close_at")


def timeline_update(**changes) -> dict:
    """The keyword arguments of `QuerySet.update` that change timeline fields and rewrite `deadline_at` with them.

    `changes` maps timeline fields (TIMELINE_FIELDS, and `paused_at`, which no deadline reads) to
    values or expressions of the row's old values, e.g. `extra_seconds=F("extra_seconds") + 60`.
    `deadline_at` comes first: MySQL evaluates a single-table UPDATE's assignments left to right,
    each seeing those before it, SQLite and PostgreSQL all on the old row; first, both read the old row.
    """
    unknown = set(changes) - {*TIMELINE_FIELDS, "paused_at"}
    if unknown:
        raise ValueError(f"not timeline fields: {sorted(unknown)}")
    timeline = {k: v for k, v in changes.items() if k in TIMELINE_FIELDS}
    if "close_at" in timeline and timeline["close_at"] is None:
        del timeline["close_at"]
        expression = deadline_expression(clear_close=True, **timeline)
    else:
        expression = deadline_expression(**timeline)
    return {"deadline_at": expression, **changes}


def deadline_of(attempt) -> datetime:
    """`attempt_deadline` of an Attempt's timeline fields (what its `deadline_at` must equal)."""
    return attempt_deadline(
        attempt.started_at, attempt.allotted_seconds, attempt.extra_seconds, attempt.paused_total, attempt.close_at
    )


def pause_update(now: datetime) -> dict:
    """`QuerySet.update` arguments that pause running attempts at `now` (the deadline does not change)."""
    return {"paused_at": now}


def resume_update(now: datetime) -> dict:
    """`QuerySet.update` arguments that end paused attempts' pauses at `now`: each row's pause (now - paused_at)
    joins its `paused_total`, which moves its deadline by exactly that much. Only for rows with `paused_at` set."""
    paused_for = ExpressionWrapper(
        Value(now, output_field=DateTimeField()) - F("paused_at"), output_field=DurationField()
    )
    return timeline_update(paused_total=F("paused_total") + paused_for, paused_at=None)
