"""Redis commands per operation (issue 13 §3), counted through MONITOR on a redis-server of the
test's own, against the real consumers, hub and channel layer. Each bound is what the operation
costs today: one more command per operation fails here.

Not counted, because they are the process's upkeep and do not grow with operations: the hub's
heartbeat (one script a second) and its group refresh (ZADD + EXPIRE a second), and the channel
layer's blocking receive (a BZPOPMIN and a script that re-queues unacknowledged messages, each
time a wait ends, on a message or after 5 s): see README "Redis commands per operation".
"""

import asyncio
import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async

from exams import clock, timers
from exams.expiry.listener import ExpiryListener
from exams.models import Attempt
from tests.support.redis_commands import CommandLog, MonitoredRedis

from .test_consumers import attempt_path, frame_of, next_frame, open_socket, proctor_path, start_attempt

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_layer")]


def upkeep(command: str) -> bool:
    """A command of the process's upkeep, not of the operation under test."""
    head = command[:300]
    return (
        command.startswith("BZPOPMIN ")
        or (command.startswith("EVAL ") and ("backed_up" in head or "local known = redis.call('ZSCORE'" in head))
        or (command.startswith(("ZADD ", "EXPIRE ")) and "exam:layer::group:" in command.split(" ")[1])
    )


def cost(log: CommandLog) -> list[str]:
    """The operation's commands: sent by clients (a script call counts once), less the upkeep."""
    return [c.split(" ")[0] for c in log.calls if not upkeep(c)]


@database_sync_to_async
def fall_due(attempt_id: int) -> None:
    """Its deadline a second ago, in the database and in Redis, as if time had run out."""
    deadline = clock.now() - timedelta(seconds=1)
    Attempt.objects.filter(pk=attempt_id).update(deadline_at=deadline)
    timers.extend_timer(attempt_id, deadline_ms=clock.to_ms(deadline))


async def test_redis_commands_per_operation(student, proctor, exam, private_redis):
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    question = await database_sync_to_async(lambda: exam.questions.values_list("pk", flat=True).first())()
    desk = await open_socket(proctor_path(exam.pk), proctor)
    await next_frame(desk)  # the snapshot
    warm = await open_socket(attempt_path(attempt.pk), student)  # the hub's first socket starts its tasks
    await frame_of(desk, "student_connected")
    await warm.disconnect()
    await frame_of(desk, "student_disconnected")
    costs: dict[str, list[str]] = {}

    # Each operation until its last effect is seen: the proctor told, the reply back.
    with MonitoredRedis(private_redis.port) as log:
        comm = await open_socket(attempt_path(attempt.pk), student)
        await next_frame(comm, skip_ticks=False)
        await frame_of(desk, "student_connected")
    costs["connect"] = cost(log)

    with MonitoredRedis(private_redis.port) as log:
        message = {"type": "answer", "question_id": question, "selected_option": "A", "request_id": 1}
        await comm.send_to(text_data=json.dumps(message))
        await frame_of(comm, "answer_saved")
        await frame_of(desk, "answer_saved")
    costs["answer"] = cost(log)

    with MonitoredRedis(private_redis.port) as log:
        message = {"type": "extend", "attempt_id": attempt.pk, "seconds": 60, "request_id": 1}
        await desk.send_to(text_data=json.dumps(message))
        await frame_of(comm, "extended")
        await frame_of(desk, "attempt_extended")
    costs["extend"] = cost(log)

    with MonitoredRedis(private_redis.port) as log:
        await frame_of(comm, "timer")
        await frame_of(comm, "timer")
    costs["tick"] = cost(log)

    with MonitoredRedis(private_redis.port) as log:
        await comm.disconnect()
        await frame_of(desk, "student_disconnected")
    costs["disconnect"] = cost(log)

    await fall_due(attempt.pk)
    listener = ExpiryListener()
    listener.reconciled.set()
    try:
        with MonitoredRedis(private_redis.port) as log:
            await listener.sweep_once()  # claims it, times it out, settles the claim, tells the student
            await asyncio.gather(*listener.batches)
            await listener.tell_proctors()  # the proctors' rows, once no batch is committing
            await frame_of(desk, "attempt_timeout")
        costs["timeout"] = cost(log)
    finally:
        listener.executor.shutdown()
        listener.notifier.shutdown()
    await desk.disconnect()

    # What each costs (README, "Redis commands per operation"):
    publish = ["ZREMRANGEBYSCORE", "ZRANGE", "MULTI", "ZREMRANGEBYSCORE", "EXEC", "EVAL"]  # channels-redis group_send
    receive = ["ZADD", "ZPOPMIN"]  # the one hub here takes the message and acknowledges it
    assert costs == {
        # presence's batch script; the proctors told (presence said who is connected: no SCARD)
        "connect": ["EVAL", *publish, *receive],
        "disconnect": ["EVAL", *publish, *receive],
        # presence for the proctor's row; the student and the proctors told in one message
        "answer": ["SCARD", *publish, *receive],
        # the timer key and the deadline index moved in one transaction
        "extend": ["MULTI", "SET", "ZADD", "EXEC", "SCARD", *publish, *receive],
        # ticks come from the process's memory
        "tick": [],
        # next deadline, claim (which drops the timer key); claim settled; students, then proctors told
        "timeout": [
            "ZRANGE",
            "EVAL",
            *["MULTI", "ZREM", "HDEL", "EXEC"],
            *publish,
            *receive,
            *publish,
            *receive,
        ],
    }
