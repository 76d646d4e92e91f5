"""The deadline rule: when an attempt's time is up, and how much of it is left.

An attempt is *due* once the time is strictly past its deadline plus the answer grace
(settings.EXAM["ANSWER_GRACE_SECONDS"]): an answer received at exactly deadline + grace still
counts, one a microsecond later does not. Every check of "is it due?" goes through here: the
database filters (`AttemptQuerySet.due` / `.live` in models.py), the services' checks, the
Redis timer TTLs and claims (in epoch ms), and the ticker (in epoch µs, on its hot path).
A new time rule (a pause, an accommodation) is written here once.
"""

from datetime import datetime, timedelta

from django.conf import settings

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
