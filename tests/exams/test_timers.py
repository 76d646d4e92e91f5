"""The Redis mirror of the clock (`exams/timers.py`) against the real Redis."""

import asyncio
import threading

from django.test import override_settings

from exams import timers
from exams.clock import now_ms
from exams.redis_clients import close_async_redis

from .conftest import exam_settings

# Slack for the time between computing a deadline and Redis reading the TTL (2 busy cores).
# The TTL runs to the first millisecond the attempt is due: deadline (ms) + grace + 1 (exams/deadlines.py).
SLACK_MS = 1500


def test_create_timer_sets_ttl_value_and_deadline_index(clean_redis):
    deadline = now_ms() + 30_000
    timers.create_timer(7, deadline_ms=deadline)

    ttl = clean_redis.pttl("exam:timer:7")
    assert 30_000 - SLACK_MS < ttl <= 30_000 + 1
    assert int(clean_redis.get("exam:timer:7")) == deadline
    assert clean_redis.zscore(timers.DEADLINES_KEY, "7") == deadline


def test_delete_timers_drops_keys_and_members(clean_redis):
    timers.create_timer(10, deadline_ms=now_ms() + 10_000)
    timers.create_timer(11, deadline_ms=now_ms() + 10_000)

    timers.delete_timers([10])

    assert not clean_redis.exists("exam:timer:10")
    assert clean_redis.zscore(timers.DEADLINES_KEY, "10") is None
    # The neighbour is untouched.
    assert clean_redis.exists("exam:timer:11")
    assert clean_redis.zscore(timers.DEADLINES_KEY, "11") is not None


def test_a_past_deadline_expires_at_once_but_stays_in_the_index(clean_redis):
    past = now_ms() - 5_000
    timers.create_timer(13, deadline_ms=past)

    # PX 1: gone within a few milliseconds; the sweeper still finds it in the index.
    end = now_ms() + 2_000
    while clean_redis.exists("exam:timer:13") and now_ms() < end:
        pass
    assert not clean_redis.exists("exam:timer:13")
    assert clean_redis.zscore(timers.DEADLINES_KEY, "13") == past


def test_extend_timer_moves_ttl_and_score(clean_redis):
    first = now_ms() + 5_000
    timers.create_timer(14, deadline_ms=first)
    later = first + 60_000

    timers.extend_timer(14, deadline_ms=later)

    assert 65_000 - SLACK_MS < clean_redis.pttl("exam:timer:14") <= 65_000 + 1
    assert int(clean_redis.get("exam:timer:14")) == later
    assert clean_redis.zscore(timers.DEADLINES_KEY, "14") == later


def test_grace_lengthens_the_ttl_but_not_the_score(clean_redis):
    deadline = now_ms() + 10_000
    with override_settings(EXAM=exam_settings(ANSWER_GRACE_SECONDS=5.0)):
        timers.create_timer(15, deadline_ms=deadline)

    assert 15_000 - SLACK_MS < clean_redis.pttl("exam:timer:15") <= 15_000 + 1
    assert clean_redis.zscore(timers.DEADLINES_KEY, "15") == deadline


def test_restore_timers_recreates_only_missing_keys(clean_redis):
    now = now_ms()
    timers.create_timer(20, deadline_ms=now + 50_000)
    kept_ttl = clean_redis.pttl("exam:timer:20")
    # Attempt 21 lost its key and its index entry (e.g. a FLUSHDB).
    restored = timers.restore_timers([(20, now + 90_000), (21, now + 20_000)])

    # 21 re-armed; 20's index score set to the database's deadline (the truth), its key left alone.
    assert restored == 2
    assert clean_redis.zscore(timers.DEADLINES_KEY, "20") == now + 90_000
    # The existing key keeps its own TTL and value: restore never resets a running clock.
    assert clean_redis.pttl("exam:timer:20") <= kept_ttl
    assert int(clean_redis.get("exam:timer:20")) == now + 50_000
    # The missing one gets the true remaining time, not a fresh duration.
    assert 20_000 - SLACK_MS < clean_redis.pttl("exam:timer:21") <= 20_000 + 1
    assert int(clean_redis.get("exam:timer:21")) == now + 20_000
    assert clean_redis.zscore(timers.DEADLINES_KEY, "21") == now + 20_000


def test_restore_timers_with_nothing_to_do():
    assert timers.restore_timers([]) == 0
    assert timers.restore_timers(iter(())) == 0


def test_attempt_id_from_key():
    assert timers.attempt_id_from_key("exam:timer:42") == 42
    assert timers.attempt_id_from_key("exam:timer:x") is None
    assert timers.attempt_id_from_key("exam:presence:42") is None


async def test_aclaim_due_takes_only_due_members_up_to_the_limit(clean_redis):
    now = now_ms()
    for attempt_id in range(1, 6):
        timers.create_timer(attempt_id, deadline_ms=now - attempt_id * 1000)
    timers.create_timer(99, deadline_ms=now + 60_000)
    try:
        first = await timers.aclaim_due(limit=3)
        second = await timers.aclaim_due(limit=3)
        third = await timers.aclaim_due(limit=3)
    finally:
        await close_async_redis()

    # Oldest deadlines first, each taken once, the future one left alone.
    assert first == [5, 4, 3]
    assert second == [2, 1]
    assert third == []
    assert clean_redis.zrange(timers.DEADLINES_KEY, 0, -1) == [b"99"]


async def test_aclaim_due_respects_the_grace(clean_redis):
    timers.create_timer(30, deadline_ms=now_ms() - 1_000)
    try:
        with override_settings(EXAM=exam_settings(ANSWER_GRACE_SECONDS=10.0)):
            assert await timers.aclaim_due(limit=10) == []
        assert await timers.aclaim_due(limit=10) == [30]
    finally:
        await close_async_redis()


def test_two_concurrent_claimers_never_take_the_same_member(clean_redis):
    total = 3000
    past = now_ms() - 1_000
    pipe = clean_redis.pipeline()
    pipe.zadd(timers.DEADLINES_KEY, {str(i): past - i for i in range(1, total + 1)})
    pipe.execute()
    claimed: dict[str, list[int]] = {"a": [], "b": []}
    barrier = threading.Barrier(2)

    async def drain(name: str) -> None:
        try:
            while batch := await timers.aclaim_due(limit=3):
                claimed[name].extend(batch)
        finally:
            await close_async_redis()

    def claimer(name: str) -> None:
        barrier.wait()
        # Each thread has its own event loop and so its own async client.
        asyncio.run(drain(name))

    threads = [threading.Thread(target=claimer, args=(name,)) for name in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    a, b = claimed["a"], claimed["b"]
    # A thousand round trips: both claimers really ran side by side.
    assert a and b
    assert not set(a) & set(b)
    assert len(a) + len(b) == total
    assert set(a) | set(b) == set(range(1, total + 1))
    assert clean_redis.zcard(timers.DEADLINES_KEY) == 0


# --- Claims are leases -----------------------------------------------------------------


def leases(client) -> dict[int, int]:
    """Leased attempt id -> the deadline its lease keeps."""
    assert client.zcard(timers.CLAIMS_KEY) == client.hlen(timers.CLAIMED_DEADLINES_KEY)
    return {int(k): int(float(v)) for k, v in client.hgetall(timers.CLAIMED_DEADLINES_KEY).items()}


async def test_a_claim_moves_the_id_into_a_lease_that_keeps_its_deadline(clean_redis):
    deadline = now_ms() - 1_000
    timers.create_timer(40, deadline_ms=deadline)
    timers.create_timer(41, deadline_ms=deadline)
    try:
        with override_settings(EXAM=exam_settings(CLAIM_LEASE_MS=30_000)):
            claimed_at = now_ms()
            assert await timers.aclaim_due(limit=1) == [40]
            assert await timers.aclaim([40, 41, 42]) == [41]  # 40 is leased already, 42 unknown
    finally:
        await close_async_redis()

    assert clean_redis.zcard(timers.DEADLINES_KEY) == 0
    assert leases(clean_redis) == {40: deadline, 41: deadline}
    until = clean_redis.zscore(timers.CLAIMS_KEY, "40")
    assert claimed_at + 30_000 <= until <= now_ms() + 30_000


async def test_giving_claims_back_makes_them_claimable_at_once_with_their_deadline(clean_redis):
    deadline = now_ms() - 1_000
    for attempt_id in (50, 51):
        timers.create_timer(attempt_id, deadline_ms=deadline)
    try:
        claimed = await timers.aclaim_due(limit=10)
        assert await timers.aclaim_due(limit=10) == []
        assert await timers.arelease([*claimed, 52]) == 2  # 52 was never leased: nothing to give back
        assert clean_redis.zscore(timers.DEADLINES_KEY, "50") == deadline
        assert leases(clean_redis) == {}
        assert sorted(await timers.aclaim_due(limit=10)) == [50, 51]
    finally:
        await close_async_redis()


async def test_giving_a_claim_back_keeps_a_deadline_extended_meanwhile(clean_redis):
    first = now_ms() - 1_000
    timers.create_timer(60, deadline_ms=first)
    try:
        assert await timers.aclaim_due(limit=10) == [60]
        timers.extend_timer(60, deadline_ms=first + 60_000)  # a proctor granted a minute
        await timers.arelease([60])
    finally:
        await close_async_redis()

    assert clean_redis.zscore(timers.DEADLINES_KEY, "60") == first + 60_000


async def test_a_lease_that_runs_out_is_claimed_again_by_the_next_sweep(clean_redis):
    deadline = now_ms() - 1_000
    timers.create_timer(70, deadline_ms=deadline)
    try:
        with override_settings(EXAM=exam_settings(CLAIM_LEASE_MS=50)):
            assert await timers.aclaim_due(limit=10) == [70]
            assert await timers.aclaim_due(limit=10) == []  # still leased
            await asyncio.sleep(0.1)  # past the 50 ms lease: its claimer died, nobody settled or gave it back
            assert await timers.aclaim_due(limit=10) == [70]
    finally:
        await close_async_redis()

    assert leases(clean_redis) == {70: deadline}


async def test_completing_claims_drops_their_leases(clean_redis):
    timers.create_timer(80, deadline_ms=now_ms() - 1_000)
    try:
        assert await timers.aclaim_due(limit=10) == [80]
        await timers.acomplete([80])
        assert await timers.arelease([80]) == 0  # settled: there is nothing to give back
    finally:
        await close_async_redis()

    assert leases(clean_redis) == {}
    assert clean_redis.zcard(timers.DEADLINES_KEY) == 0


def test_set_timers_arms_thousands_in_a_few_script_calls_without_a_multi(private_redis):
    """A synchronized start of 2,500: one command per ARM_CHUNK attempts, not a MULTI of 5,000 (3.4 s to pack)."""
    from exams.redis_clients import get_redis
    from tests.support.redis_commands import MonitoredRedis

    base = now_ms() + 600_000
    pairs = [(i, base + i) for i in range(1, 2501)]
    get_redis().ping()
    with MonitoredRedis(private_redis.port) as log:
        assert timers.set_timers(pairs) == 2500
    names = log.names()
    assert "MULTI" not in names and "SET" not in names and "ZADD" not in names, names
    assert sum(names.values()) <= 2 * 3, names  # EVALSHA per chunk (and a SCRIPT LOAD or EVAL the first time)
    client = get_redis()
    index = {int(k): int(v) for k, v in client.zrange(timers.DEADLINES_KEY, 0, -1, withscores=True)}
    assert index == dict(pairs)
    assert int(client.get(timers.timer_key(2500))) == base + 2500
    assert 590_000 < client.pttl(timers.timer_key(1)) <= 600_000 + timers.deadlines.grace_ms() + 2


async def test_a_claim_takes_the_timer_key_with_it(clean_redis):
    """A claimed attempt's key must not expire later: its `expired` event would reach every listener for
    nothing (a hard close of 10,000: 10,000 events to read). A lease given back is found in the index."""
    timers.create_timer(90, deadline_ms=now_ms() - 1_000)
    clean_redis.set(timers.timer_key(90), "1", px=60_000)  # not expired yet: Redis lags with many TTL keys
    timers.create_timer(91, deadline_ms=now_ms() + 60_000)
    timers.create_timer(92, deadline_ms=now_ms() + 60_000)
    try:
        assert await timers.aclaim_due(limit=10) == [90]
        assert await timers.aclaim([91]) == [91]  # a keyspace event's claim
        assert clean_redis.exists(timers.timer_key(90), timers.timer_key(91)) == 0
        assert clean_redis.exists(timers.timer_key(92)) == 1  # not claimed: untouched

        assert await timers.arelease([90, 91]) == 2
        assert await timers.aclaim_due(limit=10) == [90]  # due: the sweeper's to take again
    finally:
        await close_async_redis()
