"""Fixtures of the in-process socket tests (WebsocketCommunicator on the real ASGI app)."""

from collections.abc import AsyncIterator

import pytest
from channels.layers import channel_layers


@pytest.fixture
async def fresh_layer() -> AsyncIterator[None]:
    """A channel layer per test: its receive state belongs to one event loop."""
    channel_layers.backends.clear()
    yield
    layer = channel_layers.backends.get("default")
    if layer is not None:
        await layer.close_pools()
    channel_layers.backends.clear()
