"""The server's clock and the contract's time formats."""

import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_US = timedelta(microseconds=1)


def now() -> datetime:
    return datetime.now(UTC)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds, floored exactly (a float timestamp can round up to the next millisecond)."""
    return (moment - _EPOCH) // _MS


def from_ms(epoch_ms: int) -> datetime:
    """The moment of epoch milliseconds (the inverse of `to_ms`)."""
    return _EPOCH + epoch_ms * _MS


def to_us(moment: datetime) -> int:
    """Exact epoch microseconds."""
    return (moment - _EPOCH) // _US


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds: 2026-11-24T17:04:05.123Z."""
    if moment is None:
        return None
    if moment.utcoffset():
        moment = moment.astimezone(UTC)
    # isoformat, not strftime: a hard close formats tens of thousands of instants at once.
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
