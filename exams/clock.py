"""The server's clock and the contract's time formats."""

import math
import time
from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds: 2026-11-24T17:04:05.123Z."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def remaining_seconds(deadline: datetime, at: datetime | None = None) -> int:
    """Whole seconds left, rounded up so a running clock never shows 0 early."""
    left = (deadline - (at or now())).total_seconds()
    return max(0, math.ceil(left))
