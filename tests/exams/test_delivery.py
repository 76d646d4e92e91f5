"""Delivery (exams/delivery.py): events reach every process's channel in the fan-out group, in
bounded messages, in order."""

import asyncio

import pytest
from channels.layers import get_channel_layer

from exams import delivery
from tests.realtime.conftest import fresh_layer  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("fresh_layer")


def timer(attempt_id: int) -> dict:
    return {"type": "timer", "attempt_id": attempt_id}


async def test_events_are_batched_per_message_in_order():
    layer = get_channel_layer()
    channels = [f"{delivery.PROCESS_CHANNEL_PREFIX}one", f"{delivery.PROCESS_CHANNEL_PREFIX}two"]
    for channel in channels:
        await layer.group_add(delivery.FANOUT_GROUP, channel)
    events = [delivery.to_student(i, timer(i)) for i in range(delivery.EVENTS_PER_MESSAGE + 1)]
    assert await delivery.apublish(events, **delivery.BATCH_PUBLISH)
    for channel in channels:  # every process gets every event
        first = await asyncio.wait_for(layer.receive(channel), 5)
        second = await asyncio.wait_for(layer.receive(channel), 5)
        assert [len(first["events"]), len(second["events"])] == [delivery.EVENTS_PER_MESSAGE, 1]
        assert [e[1] for e in first["events"] + second["events"]] == list(range(len(events)))


async def test_nothing_to_publish_sends_nothing():
    layer = get_channel_layer()
    channel = f"{delivery.PROCESS_CHANNEL_PREFIX}empty"
    await layer.group_add(delivery.FANOUT_GROUP, channel)
    assert await asyncio.to_thread(delivery.publish, [])
    assert await asyncio.to_thread(delivery.publish, [delivery.to_proctors(7, {"type": "snapshot"})])
    # The next message is the second publish's: the empty one sent none.
    message = await asyncio.wait_for(layer.receive(channel), 5)
    assert message["events"] == [[delivery.TO_EXAM, 7, {"type": "snapshot"}]]


def test_targets():
    assert delivery.to_student(3, timer(3)) == (delivery.TO_ATTEMPT, 3, timer(3))
    assert delivery.to_proctors(4, {"type": "snapshot"})[:2] == (delivery.TO_EXAM, 4)
