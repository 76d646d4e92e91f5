"""Many attempts' proctor rows, read by the hubs holding the exam's proctors (realtime/proctor_feed.py):
through the real channel layer, hub, proctor consumer and database."""

import pytest
from channels.db import database_sync_to_async

from exams import delivery, services, time_control
from exams.contract import builders
from realtime.hub import get_hub

from .test_consumers import frame_of, next_frame, open_socket, proctor_path

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_layer")]

in_thread = database_sync_to_async


async def started(make_user, exam, count: int) -> list[int]:
    return [
        (await in_thread(services.start_attempt)(user=await in_thread(make_user)(), exam_id=exam.pk)).attempt.pk
        for _ in range(count)
    ]


async def publish(events: list) -> None:
    assert await delivery.apublish(events, timeout=2.0, tries=1)


async def test_an_exam_wide_change_gives_the_proctor_every_row(make_user, proctor, exam):
    ids = await started(make_user, exam, 3)
    desk = await open_socket(proctor_path(exam.pk), proctor)
    assert (await next_frame(desk))["type"] == "snapshot"
    await in_thread(time_control.change_time)(by=proctor, exam_id=exam.pk, unit="minutes", amount=2)
    rows = [(await frame_of(desk, "time_changed"))["attempt"] for _ in ids]
    assert [row["attempt_id"] for row in rows] == ids
    assert all(row["extra_seconds"] == 120 for row in rows)
    await desk.disconnect()


async def test_a_proctor_frame_published_after_rows_waits_for_them(make_user, proctor, exam):
    """The rows are read in the background; a frame of the same exam published after them must not overtake them."""
    ids = await started(make_user, exam, 3)
    desk = await open_socket(proctor_path(exam.pk), proctor)
    assert (await next_frame(desk))["type"] == "snapshot"
    after = builders.exam_pause_frame(exam, None, "")
    await publish([delivery.rows_to_proctors(exam.pk, "time_changed", ids), delivery.to_proctors(exam.pk, after)])
    kinds = [(await next_frame(desk))["type"] for _ in range(4)]
    assert kinds == ["time_changed"] * 3 + ["exam_resumed"]
    await desk.disconnect()


async def test_a_process_without_the_exams_proctors_reads_no_rows(make_user, make_exam, proctor, exam):
    other = await in_thread(make_exam)()
    ids = await started(make_user, other, 2)
    desk = await open_socket(proctor_path(exam.pk), proctor)  # a proctor of another exam
    assert (await next_frame(desk))["type"] == "snapshot"
    hub = get_hub()
    await hub.dispatch([[delivery.TO_EXAM_ROWS, other.pk, {"kind": "time_changed", "attempt_ids": ids}]])
    assert not hub.feed.busy(other.pk)
    # The proctor of this exam hears the next frame for it, and nothing of the other exam before it.
    await publish([delivery.to_proctors(exam.pk, builders.exam_pause_frame(exam, None, ""))])
    assert (await next_frame(desk))["type"] == "exam_resumed"
    await desk.disconnect()
