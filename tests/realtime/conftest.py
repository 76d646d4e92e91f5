"""Fixtures of the in-process socket tests (WebsocketCommunicator on the real ASGI app)."""

from collections.abc import AsyncIterator

import pytest
from channels.layers import channel_layers

from realtime import db
from realtime.ticker import existing_ticker


@pytest.fixture(autouse=True)
async def socket_work_done() -> AsyncIterator[None]:
    """After each test, let database work its sockets started (a ticker's settle, an answer being
    stored) finish while the test's loop still runs: it publishes back through that loop, and a
    thread left waiting on a closed loop hangs the interpreter's exit."""
    yield
    ticker = existing_ticker()
    if ticker is not None:
        await ticker.settled()
    assert await db.wait_idle(timeout=10), "database work of this test's sockets still running after 10 s"


@pytest.fixture
async def fresh_layer() -> AsyncIterator[None]:
    """A channel layer per test: its receive state belongs to one event loop."""
    channel_layers.backends.clear()
    yield
    layer = channel_layers.backends.get("default")
    if layer is not None:
        await layer.close_pools()
    channel_layers.backends.clear()
