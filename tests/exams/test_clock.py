"""exams/clock.py: the contract's time format and exact epoch conversions."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from exams import clock

MOMENT = datetime(2026, 11, 24, 17, 4, 5, 123456, tzinfo=UTC)


def test_iso_is_utc_with_milliseconds_and_a_z():
    assert clock.iso(MOMENT) == "2026-11-24T17:04:05.123Z"
    assert clock.iso(MOMENT.replace(microsecond=0)) == "2026-11-24T17:04:05.000Z"


def test_iso_truncates_to_the_millisecond():
    """Never rounds up: a deadline shown can't be later than the one held."""
    assert clock.iso(MOMENT.replace(microsecond=999_999)) == "2026-11-24T17:04:05.999Z"
    assert clock.iso(MOMENT.replace(microsecond=999)) == "2026-11-24T17:04:05.000Z"


def test_iso_converts_other_zones_to_utc():
    plus_two = MOMENT.astimezone(timezone(timedelta(hours=2)))
    assert plus_two.hour == 19
    assert clock.iso(plus_two) == "2026-11-24T17:04:05.123Z"


def test_iso_of_nothing_is_nothing():
    assert clock.iso(None) is None


def test_iso_reads_back_to_the_same_millisecond():
    text = clock.iso(MOMENT)
    assert datetime.fromisoformat(text.replace("Z", "+00:00")) == MOMENT.replace(microsecond=123_000)


@pytest.mark.parametrize(
    ("moment", "ms"),
    [
        (datetime(1970, 1, 1, tzinfo=UTC), 0),
        (MOMENT, 1_795_539_845_123),
        (MOMENT.replace(microsecond=999_999), 1_795_539_845_999),  # floored, never the next millisecond
        (datetime(1969, 12, 31, 23, 59, 59, 999_500, tzinfo=UTC), -1),  # floored below the epoch too
        (MOMENT.astimezone(timezone(timedelta(hours=-5))), 1_795_539_845_123),
    ],
)
def test_to_ms_floors_exactly(moment, ms):
    assert clock.to_ms(moment) == ms


def test_to_us_is_exact():
    assert clock.to_us(MOMENT) == 1_795_539_845_123_456
    assert clock.to_us(datetime(1970, 1, 1, tzinfo=UTC)) == 0


def test_now_is_aware_utc_and_agrees_with_now_ms():
    before = clock.now()
    ms = clock.now_ms()
    after = clock.now()
    assert before.tzinfo is UTC
    assert clock.to_ms(before) <= ms <= clock.to_ms(after)
