"""The one vocabulary of time that runs past a hard close (issue 11 §2): the proctor sends `close: "move"`
(the close moves to the new end) or `close: "keep"` (the close stays and the deadline stops at it).

Every action that can run past a close (a single extend, an exam-wide change, a reopen, an exam-wide
resume) takes this choice, and each refuses a grant past a close without one in the same words.
"""

from datetime import datetime, timedelta

from . import clock
from .errors import Conflict, ServiceError

MOVE, KEEP = "move", "keep"
CHOICES = (MOVE, KEEP)
HOW = "send close=move to move the close to the new end, or close=keep to keep the close (the time stops at it)"


def check(close: str | None) -> None:
    """`close` is absent (ask if it matters), `move` or `keep`."""
    if close is not None and close not in CHOICES:
        raise ServiceError(f"close must be {MOVE!r} or {KEEP!r}.", code="invalid")


def minutes_past(over: timedelta) -> int:
    """By how many minutes a new end runs past a close, for a person: to the nearest minute, at least 1."""
    return max(1, round(over / timedelta(minutes=1)))


def refusal(over: timedelta, *, attempts: int = 1, close_at: datetime | None = None) -> Conflict:
    """The `past_close` refusal: "this runs N min past the close", for how many attempts, and both choices."""
    where = f" ({clock.iso(close_at)})" if close_at is not None else ""
    if attempts > 1:
        where = f" (the furthest of {attempts} attempts)"
    return Conflict(f"This runs {minutes_past(over)} min past the close{where}: {HOW}.", code="past_close")
