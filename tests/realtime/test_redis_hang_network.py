"""A Redis master that hangs (SIGSTOP: its connections stay open, nothing answers) rather than dies,
and the sentinels promote its replica: a real daphne on the sentinels, a proctor's socket on it.

A dead master refuses connections, so every client moves on at once; a hung one holds whatever
waits on it until a socket timeout: the hub's blocking fan-out receive (channels-redis's 5 s
BZPOPMIN, read with CHANNEL_LAYER_SOCKET_TIMEOUT) held every proctor event for up to 15 s.
"""

import asyncio
import time
from collections.abc import Iterator

import pytest

from tests.conftest import token_for
from tests.realtime.test_sockets_network import open_ws, proctor_path, recv, rest, start
from tests.support.processes import daphne
from tests.support.redis_server import SentinelSet

pytestmark = [pytest.mark.network, pytest.mark.django_db(transaction=True)]

# Proctor events flow again this soon after the sentinels promoted the replica (or the master
# answers again). An extension racing the promotion may first wait out REDIS_TIMEOUT (2 s) on
# the old master and be refused: then the next one makes the event.
RESUMED_WITHIN = 5.0


@pytest.fixture
def sentinels(tmp_path) -> Iterator[SentinelSet]:
    servers = SentinelSet()
    try:
        servers.start(tmp_path)
        yield servers
    finally:
        servers.stop()


async def extend_steadily(base: str, token: str, attempt_id: int, stop: asyncio.Event) -> None:
    """A proctor's extension every 0.25 s (over REST: it commits whatever Redis does)."""
    while not stop.is_set():
        await rest(base, "POST", f"/api/exam/timer/extend/{attempt_id}/", token, {"seconds": 60})
        await asyncio.sleep(0.25)


async def first_extension_event(base: str, desk, token: str, attempt_id: int) -> None:
    """Extend steadily until the proctor's socket has an `attempt_extended` event (a resync's
    `snapshot` in between is not one)."""
    stop = asyncio.Event()
    extending = asyncio.create_task(extend_steadily(base, token, attempt_id, stop))
    try:
        while (await recv(desk, timeout=20))["type"] != "attempt_extended":
            pass
    finally:
        stop.set()
        await extending


async def test_proctor_events_resume_soon_after_a_hung_master_is_replaced(sentinels, student, proctor, exam):
    env = {
        "TEST_REDIS_URL": sentinels.master.url,
        "REDIS_SENTINELS": f"127.0.0.1:{sentinels.port}",
        "REDIS_SENTINEL_MASTER": sentinels.name,
    }
    with daphne(**env) as base:
        attempt = await start(base, token_for(student), exam.pk)
        async with open_ws(base, proctor_path(exam.pk), token_for(proctor)) as desk:
            assert (await recv(desk))["type"] == "snapshot"
            # Long enough for the hub to sit in its blocking receive on the master.
            await asyncio.sleep(1)
            sentinels.master.pause()
            end = time.monotonic() + 15
            while await asyncio.to_thread(sentinels.master_port) == sentinels.master.port:
                assert time.monotonic() < end, "the sentinel did not fail over"
                await asyncio.sleep(0.05)
            promoted = time.monotonic()

            await first_extension_event(base, desk, token_for(proctor), attempt["attempt_id"])
            waited = time.monotonic() - promoted
            assert waited < RESUMED_WITHIN, f"the first proctor event came {waited:.1f} s after the promotion"


async def test_proctor_events_resume_soon_after_a_hung_master_answers_again(private_redis, student, proctor, exam):
    """No sentinels: the master hangs for less than the sockets' timeouts, then answers again."""
    with daphne(TEST_REDIS_URL=private_redis.url) as base:
        attempt = await start(base, token_for(student), exam.pk)
        async with open_ws(base, proctor_path(exam.pk), token_for(proctor)) as desk:
            assert (await recv(desk))["type"] == "snapshot"
            await asyncio.sleep(1)
            private_redis.pause()
            await asyncio.sleep(4)
            private_redis.resume()
            resumed = time.monotonic()
            await first_extension_event(base, desk, token_for(proctor), attempt["attempt_id"])
            waited = time.monotonic() - resumed
            assert waited < RESUMED_WITHIN, f"the first proctor event came {waited:.1f} s after Redis answered again"
