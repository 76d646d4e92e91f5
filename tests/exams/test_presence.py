"""exams/presence.py against the real Redis: who holds which attempt's sockets, and the
transitions each script reports (the first process in, the last one out)."""

from collections.abc import AsyncIterator

import pytest

from exams import presence
from exams.clock import now_ms
from exams.redis_clients import close_async_redis

DEAD_MS = int(presence.PROCESS_TIMEOUT_SECONDS * 1000)


@pytest.fixture
async def redis_closed() -> AsyncIterator[None]:
    """The test loop's asyncio client is closed with the loop's test."""
    yield
    await close_async_redis()


def members(clean_redis, attempt_id: int) -> set[str]:
    return {m.decode() for m in clean_redis.smembers(presence.presence_key(attempt_id))}


def held_by(clean_redis, pid: str) -> set[int]:
    return {int(m) for m in clean_redis.smembers(f"{presence.PROCESS_PREFIX}{pid}")}


async def test_the_first_process_in_connects_and_the_last_out_disconnects(clean_redis, redis_closed):
    now = now_ms()
    assert await presence.apply_changes("a", now, [(1, True), (2, True)]) == ([1, 2], [])
    assert await presence.apply_changes("b", now, [(1, True)]) == ([], [])  # a second tab elsewhere
    assert members(clean_redis, 1) == {"a", "b"}
    assert (held_by(clean_redis, "a"), held_by(clean_redis, "b")) == ({1, 2}, {1})
    assert 0 < clean_redis.ttl(presence.presence_key(1)) <= presence.PRESENCE_TTL_SECONDS

    assert await presence.apply_changes("a", now, [(1, False)]) == ([], [])  # b still holds it
    assert await presence.apply_changes("b", now, [(1, False)]) == ([], [1])
    assert await presence.apply_changes("a", now, [(2, False)]) == ([], [2])
    assert not clean_redis.exists(presence.presence_key(1), presence.presence_key(2))


async def test_a_change_repeated_reports_no_transition(clean_redis, redis_closed):
    """A batch re-reported after a failed flush must not log `connected` or `disconnected` twice."""
    now = now_ms()
    assert await presence.apply_changes("a", now, [(7, True)]) == ([7], [])
    assert await presence.apply_changes("a", now, [(7, True)]) == ([], [])
    assert await presence.apply_changes("a", now, [(7, False)]) == ([], [7])
    assert await presence.apply_changes("a", now, [(7, False)]) == ([], [])
    assert await presence.apply_changes("b", now, [(8, False)]) == ([], [])  # never held


async def test_changes_leave_the_heartbeat_to_heartbeat(clean_redis, redis_closed):
    await presence.apply_changes("a", now_ms(), [(1, True)])
    assert clean_redis.zscore(presence.PROCESSES_KEY, "a") is None


async def test_a_heartbeat_says_when_the_process_was_forgotten(clean_redis, redis_closed):
    first = now_ms()
    assert await presence.heartbeat("a", first) is True  # not registered yet (the hub's first beat)
    assert await presence.heartbeat("a", first + 1000) is False
    assert clean_redis.zscore(presence.PROCESSES_KEY, "a") == first + 1000
    clean_redis.flushdb()  # Redis lost its data
    assert await presence.heartbeat("a", first + 2000) is True


async def test_leave_removes_the_process_and_reports_what_it_alone_held(clean_redis, redis_closed):
    now = now_ms()
    await presence.heartbeat("a", now)
    await presence.heartbeat("b", now)
    await presence.apply_changes("a", now, [(1, True), (2, True)])
    await presence.apply_changes("b", now, [(2, True)])

    assert await presence.leave("a") == [1]
    assert members(clean_redis, 2) == {"b"}
    assert not clean_redis.exists(f"{presence.PROCESS_PREFIX}a")
    assert clean_redis.zscore(presence.PROCESSES_KEY, "a") is None
    assert await presence.leave("a") == []  # twice is harmless
    assert presence.connected_map([1, 2]) == {1: False, 2: True}


async def test_the_sweep_removes_processes_that_stopped_beating(clean_redis, redis_closed):
    now = now_ms()
    await presence.heartbeat("dead", now - DEAD_MS - 1)
    await presence.heartbeat("alive", now - DEAD_MS + 1000)
    await presence.apply_changes("dead", now, [(1, True), (2, True)])
    await presence.apply_changes("alive", now, [(2, True), (3, True)])

    assert await presence.sweep_dead_processes(now) == [1]
    assert presence.connected_map([1, 2, 3]) == {1: False, 2: True, 3: True}
    assert not clean_redis.exists(f"{presence.PROCESS_PREFIX}dead")
    assert [m.decode() for m in clean_redis.zrange(presence.PROCESSES_KEY, 0, -1)] == ["alive"]
    assert await presence.sweep_dead_processes(now) == []  # claimed once: no second `disconnected`


async def test_the_sweep_takes_at_most_limit_processes_a_call(clean_redis, redis_closed):
    now = now_ms()
    for n, pid in enumerate(("d1", "d2", "d3")):
        await presence.heartbeat(pid, now - DEAD_MS - 1000 + n)
        await presence.apply_changes(pid, now, [(n + 1, True)])

    assert await presence.sweep_dead_processes(now, limit=2) == [1, 2]  # the longest silent first
    assert await presence.sweep_dead_processes(now, limit=2) == [3]
    assert clean_redis.zcard(presence.PROCESSES_KEY) == 0


async def test_a_swept_process_that_beats_again_is_told_to_resync(clean_redis, redis_closed):
    now = now_ms()
    await presence.heartbeat("slow", now - DEAD_MS - 1)
    await presence.apply_changes("slow", now, [(1, True)])
    assert await presence.sweep_dead_processes(now) == [1]
    assert await presence.heartbeat("slow", now) is True  # re-report presence, resync the sockets


def test_connected_map(clean_redis):
    assert presence.connected_map([]) == {}
    clean_redis.sadd(presence.presence_key(5), "a")
    assert presence.connected_map([5, 6]) == {5: True, 6: False}


def test_connected_map_says_nobody_is_connected_while_redis_is_down(private_redis):
    """Presence is advisory: a proctor's rows come without it rather than not at all."""
    private_redis.client().sadd(presence.presence_key(5), "a")
    assert presence.connected_map([5]) == {5: True}
    private_redis.kill()
    assert presence.connected_map([5, 6]) == {5: False, 6: False}
