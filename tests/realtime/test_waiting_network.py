"""The waiting room over the network: real daphne processes, `websockets` clients, the real database and Redis.

Students wait on `/ws/exams/<id>/wait/`; a proctor starts the exam over their socket (or the
schedule comes); every waiting student gets their `start` frame, with the same `started_at`,
before that instant. Every frame is checked against its declaration.
"""

import asyncio
import json
import time
from datetime import datetime, timedelta

import pytest
from websockets.exceptions import ConnectionClosed

from exams import clock
from exams.models import Attempt, Enrollment, Exam
from tests.conftest import token_for
from tests.realtime.test_sockets_network import WAIT, open_ws, recv, recv_type
from tests.support.processes import daphne

pytestmark = [pytest.mark.network, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def two_servers(django_db_setup, django_db_blocker):
    with daphne() as first, daphne() as second:
        yield first, second


def wait_path(exam_id: int) -> str:
    return f"/ws/exams/{exam_id}/wait/"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_start_now_reaches_every_waiting_student_before_the_shared_instant(two_servers, make_exam, make_user, proctor):
    exam = make_exam(duration=600, waiting_room=True, start_code="4711")
    students = [make_user() for _ in range(6)]
    late_coder = make_user()
    bases = [two_servers[i % 2] for i in range(len(students))]
    ack, frames, started = asyncio.run(_start_now_scenario(two_servers, exam, students, late_coder, proctor, bases))
    ids = {f["attempt_id"] for f in frames}
    assert ids == started == set(Attempt.objects.filter(exam=exam).values_list("pk", flat=True))
    assert not Attempt.objects.filter(user=late_coder).exists()


async def _start_now_scenario(two_servers, exam, students, late_coder, proctor, bases):
    sockets = [await open_ws(base, wait_path(exam.pk), token_for(s)) for base, s in zip(bases, students, strict=True)]
    lagging = await open_ws(two_servers[0], wait_path(exam.pk), token_for(late_coder))
    try:
        for ws in [*sockets, lagging]:
            first = await recv(ws)
            assert (first["type"], first["starts_at"], first["code_required"], first["code_accepted"]) == (
                "waiting",
                None,
                True,
                False,
            )
        await lagging.send('{"type": "start_code", "code": "0000", "request_id": 1}')
        wrong = await recv(lagging)
        assert (wrong["type"], wrong["code"], wrong["request_id"]) == ("error", "wrong_start_code", 1)
        for ws in sockets:
            await ws.send('{"type": "start_code", "code": " 4711 ", "request_id": "c"}')
            accepted = await recv(ws)
            assert (accepted["type"], accepted["code_accepted"], accepted["request_id"]) == ("waiting", True, "c")

        async with open_ws(two_servers[1], f"/ws/proctor/exams/{exam.pk}/", token_for(proctor)) as room:
            await recv_type(room, "snapshot")
            await room.send('{"type": "start_now", "request_id": 7}')
            ack = await recv_type(room, "ack")
            assert (ack["action"], ack["ready"], ack["request_id"]) == ("start_now", 6, 7)
            starting = await recv_type(room, "exam_starting")
            assert starting["started_at"] == ack["started_at"]
            frames = [await recv_type(ws, "start") for ws in sockets]
            arrived = clock.now()
            started = {
                await_row["attempt"]["attempt_id"]
                for await_row in [await recv_type(room, "attempt_started") for _ in sockets]
            }

        instant = at(ack["started_at"])
        assert {f["started_at"] for f in frames} == {ack["started_at"]}
        assert arrived < instant, "every start frame arrived before the clocks start"
        assert all(at(f["server_time"]) < instant for f in frames)
        assert {len(f["questions"]) for f in frames} == {3}
        assert all(f["remaining_seconds"] >= 600 for f in frames)  # the clock has not started yet
        assert {at(f["deadline"]) - instant for f in frames} == {timedelta(seconds=600)}
        # The student without the code is told the start came (and gets no attempt).
        told = await recv_type(lagging, "waiting")
        assert (told["starts_at"], told["code_accepted"]) == (ack["started_at"], False)
        # The attempt's own socket takes over.
        async with open_ws(bases[0], f"/ws/attempts/{frames[0]['attempt_id']}/", token_for(students[0])) as own:
            assert (await recv_type(own, "timer"))["deadline"] == frames[0]["deadline"]
        return ack, frames, started
    finally:
        for ws in [*sockets, lagging]:
            await ws.close()


def test_a_students_two_tabs_on_two_processes_get_one_attempt(two_servers, make_exam, make_user, proctor):
    exam = make_exam(duration=600, waiting_room=True)
    student = make_user()
    frames = asyncio.run(_two_tabs(two_servers, exam, student, proctor))
    assert frames[0]["attempt_id"] == frames[1]["attempt_id"]
    assert Attempt.objects.filter(exam=exam, user=student).count() == 1


async def _two_tabs(two_servers, exam, student, proctor):
    tabs = [await open_ws(base, wait_path(exam.pk), token_for(student)) for base in two_servers]
    try:
        for tab in tabs:
            assert (await recv(tab))["type"] == "waiting"
        async with open_ws(two_servers[0], f"/ws/proctor/exams/{exam.pk}/", token_for(proctor)) as room:
            await recv_type(room, "snapshot")
            await room.send('{"type": "start_now"}')
            await recv_type(room, "ack")
            return [await recv_type(tab, "start") for tab in tabs]
    finally:
        for tab in tabs:
            await tab.close()


def test_a_scheduled_start_needs_no_proctor(two_servers, make_exam, make_user):
    starts = clock.now() + timedelta(seconds=4)
    exam = make_exam(duration=300, waiting_room=True, starts_at=starts)
    students = [make_user() for _ in range(4)]
    frames = asyncio.run(_scheduled(two_servers, exam, students, starts))
    assert {f["started_at"] for f in frames} == {clock.iso(starts)}
    assert Exam.objects.get(pk=exam.pk).started_at == starts


async def _scheduled(two_servers, exam, students, starts):
    sockets = [await open_ws(two_servers[i % 2], wait_path(exam.pk), token_for(s)) for i, s in enumerate(students)]
    try:
        for ws in sockets:
            assert (await recv(ws))["starts_at"] == clock.iso(starts)
        frames = [await recv_type(ws, "start", timeout=WAIT + 4) for ws in sockets]
        assert clock.now() < starts
        return frames
    finally:
        for ws in sockets:
            await ws.close()


def test_outsiders_are_refused_and_late_arrivals_start_on_their_own(two_servers, make_exam, make_user):
    exam = make_exam(duration=300, waiting_room=True)
    enrolled, outsider = make_user(), make_user()
    Enrollment.objects.create(exam=exam, user=enrolled)
    assert asyncio.run(_close_code(two_servers[0], wait_path(exam.pk), token_for(outsider))) == 4403
    Exam.objects.filter(pk=exam.pk).update(started_at=clock.now() - timedelta(seconds=20))
    before = time.time()
    frame = asyncio.run(_first_start(two_servers[1], wait_path(exam.pk), token_for(enrolled)))
    assert at(frame["started_at"]).timestamp() >= before - 1  # their own start, not 20 s ago


async def _close_code(base, path, token):
    ws = await open_ws(base, path, token)
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), WAIT)
    return ws.close_code


async def _first_start(base, path, token):
    async with open_ws(base, path, token) as ws:
        return await recv_type(ws, "start")


def test_announcements_reach_the_waiting_room_at_once_and_are_replayed_with_their_acks(
    two_servers, make_exam, make_user, proctor, clean_redis
):
    """Before the start: an announcement to everyone or to one enrolled student (by user id) reaches their
    waiting sockets on both processes at once; an acknowledgement answers, reaches the student's other tab
    and the proctors; a (re)connect replays the student's announcements with their acknowledgements."""
    from exams import presence

    exam = make_exam(duration=600, waiting_room=True)
    ann, bob = make_user(), make_user()
    Enrollment.objects.bulk_create([Enrollment(exam=exam, user=u) for u in (ann, bob)])
    # Each test flushes Redis: both daphnes must have beaten (re-joined the fan-out group) first.
    end = time.monotonic() + 2 * presence.HEARTBEAT_SECONDS + 1
    while clean_redis.zcard(presence.PROCESSES_KEY) < 2 and time.monotonic() < end:
        time.sleep(0.05)
    asyncio.run(_announcements_scenario(two_servers, exam, ann, bob, proctor))
    assert not Attempt.objects.filter(exam=exam).exists()


async def _announcements_scenario(two_servers, exam, ann, bob, proctor):
    first, second = two_servers
    ann_tab = await open_ws(first, wait_path(exam.pk), token_for(ann))
    ann_other_tab = await open_ws(second, wait_path(exam.pk), token_for(ann))
    bob_ws = await open_ws(second, wait_path(exam.pk), token_for(bob))
    waiting = [ann_tab, ann_other_tab, bob_ws]
    try:
        for ws in waiting:
            assert (await recv(ws))["type"] == "waiting"
        async with open_ws(first, f"/ws/proctor/exams/{exam.pk}/", token_for(proctor)) as desk:
            await recv_type(desk, "snapshot")

            async def announce(message: str, **to) -> dict:
                await desk.send(json.dumps({"type": "announce", "message": message, "request_id": message, **to}))
                ack = await recv_type(desk, "ack")
                assert (ack["action"], ack["request_id"]) == ("announce", message)
                return ack

            everyone = await announce("Q3: option C reads 42.")
            for ws in waiting:
                frame = await recv(ws)
                assert (frame["type"], frame["id"], frame["to"]) == ("announcement", everyone["id"], "exam")
            only_bob = await announce("Bob, your microphone.", user_id=bob.pk)
            frame = await recv(bob_ws)
            assert (frame["type"], frame["id"], frame["to"]) == ("announcement", only_bob["id"], "student")
            # Ann's tabs heard nothing of it: the next thing they hear is the next announcement to all.
            later = await announce("Ten minutes to the start.")
            for ws in waiting:
                assert (await recv(ws))["id"] == later["id"]

            await ann_tab.send(json.dumps({"type": "acknowledge", "announcement_id": everyone["id"], "request_id": 9}))
            reply = await recv(ann_tab)
            assert (reply["type"], reply["announcement_id"], reply["request_id"]) == ("acknowledged", everyone["id"], 9)
            relayed = await recv(ann_other_tab)
            assert (relayed["type"], relayed["announcement_id"]) == ("acknowledged", everyone["id"])
            seen = await recv_type(desk, "announcement_ack")
            assert (seen["announcement_id"], seen["ack"]["user_id"], seen["acknowledged"]) == (
                everyone["id"],
                ann.pk,
                1,
            )
            # The tab that acknowledged gets no echo of its own acknowledgement: its next frame is the next event.
            last = await announce("Five minutes.")
            assert (await recv(ann_tab))["id"] == last["id"]

        # A reconnect replays this student's announcements (not Bob's), with the acknowledgement.
        async with open_ws(second, wait_path(exam.pk), token_for(ann)) as again:
            assert (await recv(again))["type"] == "waiting"
            replay = await recv(again)
            assert (replay["type"], replay["exam_id"]) == ("announcements", exam.pk)
            assert [a["id"] for a in replay["announcements"]] == [everyone["id"], later["id"], last["id"]]
            assert [a["acknowledged_at"] is not None for a in replay["announcements"]] == [True, False, False]
        async with open_ws(first, wait_path(exam.pk), token_for(bob)) as again:
            assert (await recv(again))["type"] == "waiting"
            replay = await recv(again)
            assert only_bob["id"] in [a["id"] for a in replay["announcements"]]
    finally:
        for ws in waiting:
            await ws.close()
