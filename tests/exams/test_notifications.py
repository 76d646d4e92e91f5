"""What to tell whom (exams/notifications.py), as a daphne process's hub receives it: through the
real Redis channel layer, every frame checked against its declaration."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exams import delivery, notifications, services
from exams.delivery import TO_ATTEMPT, TO_EXAM, TO_EXAM_ROWS
from exams.models import ExpiryPath, Question
from tests.realtime.conftest import fresh_layer  # noqa: F401 (fixture)
from tests.support.contract_check import check_event

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_layer")]

in_thread = database_sync_to_async


@pytest.fixture
async def hub_channel() -> str:
    """A process channel in the fan-out group, as a hub has."""
    channel = f"{delivery.PROCESS_CHANNEL_PREFIX}notifications-test"
    await get_channel_layer().group_add(delivery.FANOUT_GROUP, channel)
    return channel


async def messages(channel: str, count: int) -> list[list]:
    """The next `count` fan-out messages' events, each checked."""
    received = []
    for _ in range(count):
        message = await asyncio.wait_for(get_channel_layer().receive(channel), 5)
        assert message["type"] == "fanout"
        received.append([check_event(e) for e in message["events"]])
    return received


def start(user, exam):
    return services.start_attempt(user=user, exam_id=exam.pk).attempt


def ended_now(attempt_ids: list[int]) -> tuple[int, int]:
    """Time out the attempts without telling anyone, then tell: the queries the ending and the telling took."""
    from datetime import timedelta

    from exams import clock
    from exams.models import Attempt

    Attempt.objects.filter(pk__in=attempt_ids).update(deadline_at=clock.now() - timedelta(seconds=1))
    with CaptureQueriesContext(connection) as ending:
        ended = services.expire_attempts(attempt_ids=attempt_ids, path=ExpiryPath.SWEEPER, notify=False)
    with CaptureQueriesContext(connection) as telling:
        notifications.attempts_ended(ended)
    return len(ending.captured_queries), len(telling.captured_queries)


def proctor_frames(kind: str, attempt_ids: list[int]) -> tuple[list[dict], int]:
    """The proctors' frames of these attempts, and the queries they took."""
    with CaptureQueriesContext(connection) as reading:
        frames = notifications.proctor_frames(kind, attempt_ids)
    return frames, len(reading.captured_queries)


async def test_ends_go_to_the_students_first_then_to_the_proctors(make_user, make_exam, hub_channel):
    exam = await in_thread(make_exam)()
    attempts = [await in_thread(start)(await in_thread(make_user)(), exam) for _ in range(3)]
    await messages(hub_channel, 3)  # the starts
    ids = [a.pk for a in attempts]
    # The ending reads only what the students' frames need; the proctors' rows are read as they are now
    # (the attempts with their students, progress, question counts): three queries.
    ending, telling = await in_thread(ended_now)(ids)
    # Ending, between BEGIN and COMMIT: the exams' hand-in policies, the UPDATE, the read of what it ended
    # (no field of it read again later), the events' INSERT ... SELECT.
    assert (ending, telling) == (6, 3)
    students, proctors = await messages(hub_channel, 2)
    assert [(target, target_id, frame["type"]) for target, target_id, frame in students] == [
        (TO_ATTEMPT, i, "timeout") for i in ids
    ]
    assert [
        (target, target_id, frame["type"], frame["attempt"]["attempt_id"]) for target, target_id, frame in proctors
    ] == [(TO_EXAM, exam.pk, "attempt_timeout", i) for i in ids]
    assert all(frame["attempt"]["status"] == "timeout" for _, _, frame in proctors)


async def test_ending_and_telling_take_as_many_queries_for_thirty_attempts_as_for_one(
    make_user, make_exam, hub_channel
):
    exam = await in_thread(make_exam)()
    attempts = [await in_thread(start)(await in_thread(make_user)(), exam) for _ in range(31)]
    await messages(hub_channel, 31)  # the starts
    # A field of the ended attempts that their read leaves out would be read again, one query each.
    one = await in_thread(ended_now)([attempts[0].pk])
    await messages(hub_channel, 2)
    assert await in_thread(ended_now)([a.pk for a in attempts[1:]]) == one


async def test_a_submit_is_told_as_submitted(student, exam, hub_channel):
    attempt = await in_thread(start)(student, exam)
    await messages(hub_channel, 1)
    await in_thread(services.submit_attempt)(user=student, attempt_id=attempt.pk)
    [[(_, _, to_student)], [(_, _, to_proctors)]] = await messages(hub_channel, 2)
    assert (to_student["type"], to_proctors["type"]) == ("submitted", "attempt_submitted")


async def test_starts_answers_and_extensions(student, proctor, exam, hub_channel):
    attempt = await in_thread(start)(student, exam)
    [[started]] = await messages(hub_channel, 1)
    assert started[:2] == [TO_EXAM, exam.pk] and started[2]["type"] == "attempt_started"

    question = await in_thread(lambda: Question.objects.filter(exam=exam).first())()
    await in_thread(services.save_answer)(
        user=student, attempt_id=attempt.pk, question_id=question.pk, selected_option="B"
    )
    [[to_student, to_proctors]] = await messages(hub_channel, 1)
    assert (to_student[0], to_student[2]["type"], to_student[2]["selected_option"]) == (TO_ATTEMPT, "answer_saved", "B")
    assert (to_proctors[2]["type"], to_proctors[2]["attempt"]["answered"]) == ("answer_saved", 1)

    await in_thread(services.extend_attempt)(attempt_id=attempt.pk, seconds=30, by=proctor)
    [[to_student, to_proctors]] = await messages(hub_channel, 1)
    assert (to_student[2]["type"], to_student[2]["added_seconds"]) == ("extended", 30)
    assert (to_proctors[2]["type"], to_proctors[2]["attempt"]["extra_seconds"]) == ("attempt_extended", 30)


async def test_a_change_of_many_tells_the_students_then_names_the_attempts_per_exam(
    make_user, make_exam, proctor, hub_channel
):
    """The proctors' rows are not built on the request's path: each exam's proctors get one event naming
    its attempts, read by the processes holding them (realtime/proctor_feed.py)."""
    from exams import time_control

    first, second = await in_thread(make_exam)(), await in_thread(make_exam)()
    attempts = [await in_thread(start)(await in_thread(make_user)(), exam) for exam in (first, second, first)]
    await messages(hub_channel, 3)  # the starts
    ids = [a.pk for a in attempts]
    await in_thread(time_control.change_time)(by=proctor, exam_id=first.pk, unit="minutes", amount=2)
    students, rows = await messages(hub_channel, 2)
    assert [(target, target_id, frame["type"]) for target, target_id, frame in students] == [
        (TO_ATTEMPT, ids[0], "extended"),
        (TO_ATTEMPT, ids[2], "extended"),
    ]
    assert rows == [[TO_EXAM_ROWS, first.pk, {"kind": "time_changed", "attempt_ids": [ids[0], ids[2]]}]]
    frames, queries = await in_thread(proctor_frames)("time_changed", ids)
    assert [(f["type"], f["attempt"]["attempt_id"], f["attempt"]["extra_seconds"]) for f in frames] == [
        ("time_changed", ids[0], 120),
        ("time_changed", ids[1], 0),
        ("time_changed", ids[2], 120),
    ]
    for frame in frames:
        check_event([TO_EXAM, first.pk, frame])
    assert queries == 3  # the attempts with their students, their progress, their exams' question counts


async def test_presence_changes_go_to_the_proctors(make_user, exam, hub_channel):
    here, gone = [await in_thread(start)(await in_thread(make_user)(), exam) for _ in range(2)]
    await messages(hub_channel, 2)
    await in_thread(notifications.presence_changed)([here.pk, 10**9], [gone.pk])
    [events] = await messages(hub_channel, 1)
    assert [(target, frame["type"], frame["attempt"]["attempt_id"]) for target, _, frame in events] == [
        (TO_EXAM, "student_connected", here.pk),
        (TO_EXAM, "student_disconnected", gone.pk),
    ]


async def test_exam_rows_are_the_snapshots_rows(make_user, exam):
    attempts = [await in_thread(start)(await in_thread(make_user)(), exam) for _ in range(2)]
    rows = await in_thread(notifications.exam_rows)(exam.pk)
    assert [row["attempt_id"] for row in rows] == [a.pk for a in attempts]
