"""The exam room across real daphne processes (issue 12 §2): an announcement sent through one
process reaches a student on another at once, acknowledgements reach the proctor back, a late
joiner and a reconnect get what they missed in the connect state, a question asked on one
process is answered from the other. Real TCP sockets, real Redis, committed data."""

import time

import pytest

from exams import presence
from tests.conftest import token_for
from tests.realtime.test_sockets_network import (
    attempt_path,
    open_ws,
    proctor_path,
    recv,
    recv_event,
    recv_type,
    rest,
    start,
)
from tests.support.processes import daphne

pytestmark = [pytest.mark.network, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def two_servers(django_db_setup, django_db_blocker):
    with daphne() as a, daphne() as b:
        yield a, b


_hubs_running = {"count": 0}


@pytest.fixture(autouse=True)
def hubs_beat_again(two_servers, clean_redis):
    """Each test flushes Redis: wait until the processes whose hubs run (their first socket starts
    them) have beaten again, so they are in the fan-out group; count them after the test."""
    end = time.monotonic() + 3 * presence.HEARTBEAT_SECONDS
    while clean_redis.zcard(presence.PROCESSES_KEY) < _hubs_running["count"] and time.monotonic() < end:
        time.sleep(0.05)
    assert clean_redis.zcard(presence.PROCESSES_KEY) >= _hubs_running["count"]
    yield
    _hubs_running["count"] = clean_redis.zcard(presence.PROCESSES_KEY)


@pytest.fixture
def room(make_user, make_exam, proctor) -> dict:
    """An exam, two students' tokens and a proctor's (made before the test's event loop runs)."""
    return {
        "exam": make_exam(duration=600).pk,
        "ann": token_for(make_user(username="ann")),
        "bob": token_for(make_user(username="bob")),
        "desk": token_for(proctor),
    }


async def test_an_announcement_through_one_process_reaches_a_student_on_another(two_servers, room):
    a, b = two_servers
    exam, ann_token, bob_token, desk_token = room["exam"], room["ann"], room["bob"], room["desk"]
    ann_attempt = (await start(b, ann_token, exam))["attempt_id"]

    async with (
        open_ws(a, proctor_path(exam), desk_token) as desk,
        open_ws(b, attempt_path(ann_attempt), ann_token) as ann,
    ):
        assert (await recv(desk))["type"] == "snapshot"
        assert (await recv(ann))["type"] == "timer"
        await desk.send('{"type": "announce", "message": "Q3: option C reads 42.", "request_id": "a"}')
        reply = await recv_type(desk, "ack")
        pushed = await recv_type(ann, "announcement")
        assert pushed["id"] == reply["id"]
        assert pushed["message"] == "Q3: option C reads 42."

        # Acknowledged over REST through process A: the proctor sees who.
        status, body = await rest(
            a, "POST", f"/api/exam/room/{ann_attempt}/acknowledge/", ann_token, {"announcement_id": reply["id"]}
        )
        assert status == 200
        seen = await recv_type(desk, "announcement_ack")
        assert seen["ack"]["student"] == "ann" and seen["acknowledged"] == 1
        # The student's own socket on B hears it too (another tab acknowledged it).
        assert (await recv_type(ann, "acknowledged"))["acknowledged_at"] == body["acknowledged_at"]

    # A late joiner, on process A: the announcement is in the connect state.
    bob_attempt = (await start(a, bob_token, exam))["attempt_id"]
    async with open_ws(a, attempt_path(bob_attempt), bob_token) as bob:
        assert (await recv(bob))["type"] == "timer"
        room = await recv_type(bob, "room")
        assert [(x["id"], x["acknowledged_at"]) for x in room["announcements"]] == [(reply["id"], None)]

    # Sent while Ann was away: her reconnect (to B) replays both, the first acknowledged.
    status, second = await rest(
        a, "POST", f"/api/proctor/exams/{exam}/announcements/", desk_token, {"message": "Ten minutes."}
    )
    assert status == 201
    async with open_ws(b, attempt_path(ann_attempt), ann_token) as ann:
        assert (await recv(ann))["type"] == "timer"
        room = await recv_type(ann, "room")
        assert [(x["id"], x["acknowledged_at"] is None) for x in room["announcements"]] == [
            (reply["id"], False),
            (second["id"], True),
        ]


async def test_a_question_asked_on_one_process_is_answered_from_another(two_servers, room):
    a, b = two_servers
    exam, ann_token, desk_token = room["exam"], room["ann"], room["desk"]
    attempt = (await start(b, ann_token, exam))["attempt_id"]
    async with (
        open_ws(a, proctor_path(exam), desk_token) as desk,
        open_ws(b, attempt_path(attempt), ann_token) as ann,
    ):
        assert (await recv(desk))["type"] == "snapshot"
        assert (await recv(ann))["type"] == "timer"
        await ann.send('{"type": "ask", "text": "Is Q2 in radians?", "request_id": 1}')
        asked = await recv_event(ann)
        assert asked["type"] == "question" and asked["request_id"] == 1
        inbox = await recv_type(desk, "question")
        assert inbox["question"]["id"] == asked["id"] and inbox["question"]["answer"] is None
        await desk.send(f'{{"type": "answer_question", "question_id": {asked["id"]}, "text": "Yes."}}')
        assert (await recv_type(desk, "ack"))["answer"] == "Yes."
        answered = await recv_type(ann, "question")
        assert answered["id"] == asked["id"] and answered["answer"] == "Yes."
