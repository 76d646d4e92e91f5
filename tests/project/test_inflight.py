"""project/inflight.py: HTTP requests under way, counted for the graceful shutdown and bounded
by HTTP_CONCURRENCY so that a burst can't take more database connections than MySQL allows."""

import asyncio

import pytest
from django.test import override_settings

from project.inflight import InFlight


async def test_calls_are_counted_and_at_most_http_concurrency_run_at_once():
    inflight = InFlight()
    release = asyncio.Event()
    running: list[int] = []

    async def view(scope, receive, send) -> None:
        running.append(scope["n"])
        await release.wait()

    app = inflight.around(view)
    with override_settings(HTTP_CONCURRENCY=2):
        calls = [asyncio.create_task(app({"n": n}, None, None)) for n in range(5)]
        await asyncio.sleep(0)  # one turn of the loop: each call runs until it waits (in the view, or for a slot)
        assert (running, inflight.count) == ([0, 1], 5)  # waiting ones count: the shutdown waits for them

        release.set()
        await asyncio.gather(*calls)
    assert sorted(running) == [0, 1, 2, 3, 4]
    assert inflight.count == 0


async def test_a_call_that_fails_or_is_cancelled_is_no_longer_counted():
    inflight = InFlight()
    started = asyncio.Event()

    async def failing(scope, receive, send) -> None:
        raise RuntimeError("view failed")

    async def hanging(scope, receive, send) -> None:
        started.set()
        await asyncio.Event().wait()

    with pytest.raises(RuntimeError):
        await inflight.around(failing)({}, None, None)
    assert inflight.count == 0

    call = asyncio.create_task(inflight.around(hanging)({}, None, None))
    await started.wait()
    assert inflight.count == 1
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert inflight.count == 0
