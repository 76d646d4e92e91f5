"""The sockets over the network: real daphne processes, a real listener, a `websockets` client.

Everything the server does here crosses a real TCP socket; REST calls go to the same live
server with `urllib`. Data is committed (transaction=True) so the server processes see it.
"""

import asyncio
import itertools
import json
import math
import time
from datetime import datetime

import jwt
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from exams import presence
from exams.redis_clients import get_redis
from tests.conftest import token_for
from tests.support.contract_check import check_text
from tests.support.http import rest_call
from tests.support.processes import daphne, listener

pytestmark = [pytest.mark.network, pytest.mark.django_db(transaction=True)]

WAIT = 5


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker) -> str:
    """One daphne for the module (its start-up is the slow part); tests needing other settings start their own."""
    with daphne() as base:
        yield base


@pytest.fixture(autouse=True)
def hubs_beat_again(request, clean_redis):
    """Each test flushes Redis, as a FLUSHALL would: a daphne kept across tests re-joins the fan-out
    group at its next heartbeat. Until then its sockets get a resync instead of the events."""
    if "server" in request.fixturenames:
        end = time.monotonic() + 2 * presence.HEARTBEAT_SECONDS
        while not clean_redis.zcard(presence.PROCESSES_KEY) and time.monotonic() < end:
            time.sleep(0.05)


# --- helpers ----------------------------------------------------------------------------


def ws_uri(base: str, path: str, token: str) -> str:
    return f"{base.replace('http://', 'ws://')}{path}?token={token}"


def open_ws(base: str, path: str, token: str):
    return connect(ws_uri(base, path, token), origin=base, open_timeout=WAIT)


async def rest(
    base: str, method: str, path: str, token: str | None = None, body: dict | None = None
) -> tuple[int, dict]:
    return await asyncio.to_thread(rest_call, base, method, path, token, body, timeout=WAIT)


async def start(base: str, token: str, exam_id: int) -> dict:
    status, body = await rest(base, "POST", f"/api/exam/timer/start/{exam_id}/", token)
    assert status == 201, body
    return body


async def recv(ws, timeout: float = WAIT) -> dict:
    """The next frame, checked against its declaration (exams/contract)."""
    return check_text(ws.request.path, await asyncio.wait_for(ws.recv(), timeout))


async def recv_type(ws, kind: str, timeout: float = WAIT) -> dict:
    """Frames until one of type `kind` (ticks and other events in between are skipped)."""
    end = time.monotonic() + timeout
    while True:
        frame = await recv(ws, max(0.01, end - time.monotonic()))
        if frame["type"] == kind:
            return frame


async def recv_event(ws, timeout: float = WAIT) -> dict:
    """The next frame that is not a `timer` tick."""
    end = time.monotonic() + timeout
    while True:
        frame = await recv(ws, max(0.01, end - time.monotonic()))
        if frame["type"] != "timer":
            return frame


async def ask(ws, message: dict | str) -> dict:
    await ws.send(message if isinstance(message, str | bytes) else json.dumps(message))
    return await recv_event(ws)


async def close_code(base: str, path: str, token: str) -> int:
    async with open_ws(base, path, token) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), WAIT)
    return closed.value.rcvd.code


def ts(moment: str) -> float:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()


def attempt_path(attempt_id: int) -> str:
    return f"/ws/attempts/{attempt_id}/"


def proctor_path(exam_id: int) -> str:
    return f"/ws/proctor/exams/{exam_id}/"


# --- auth and close codes ---------------------------------------------------------------------


async def test_close_codes_and_origin(server, student, make_user, exam):
    attempt = await start(server, token_for(student), exam.pk)
    path = attempt_path(attempt["attempt_id"])

    assert await close_code(server, path, "garbage") == 4401
    assert await close_code(server, path, "") == 4401
    other = await asyncio.to_thread(make_user)
    assert await close_code(server, path, token_for(other)) == 4403
    assert await close_code(server, attempt_path(attempt["attempt_id"] + 1000), token_for(student)) == 4404
    assert await close_code(server, proctor_path(exam.pk), token_for(student)) == 4403

    with pytest.raises(InvalidStatus) as refused:
        async with connect(ws_uri(server, path, token_for(student)), origin="http://evil.example", open_timeout=WAIT):
            pass
    assert refused.value.response.status_code == 403
    # The same request from an allowed origin is accepted.
    async with open_ws(server, path, token_for(student)) as ws:
        assert (await recv(ws))["type"] == "timer"


# --- the clock --------------------------------------------------------------------------------


async def ticks_of_a_new_attempt(
    base: str, token: str, exam_id: int, count: int
) -> tuple[dict, list[tuple[dict, float]]]:
    """Start an attempt, open its socket: the attempt, and its next `count` ticks with their arrival times."""
    attempt = await start(base, token, exam_id)
    async with open_ws(base, attempt_path(attempt["attempt_id"]), token) as ws:
        snapshot = await recv(ws)
        assert snapshot["type"] == "timer"
        assert snapshot["deadline"] == attempt["deadline"]
        received = []
        for _ in range(count):
            frame = await recv(ws)
            received.append((frame, time.time()))
    return attempt, received


async def test_an_idle_socket_keeps_getting_ticks(server, student, exam):
    """Seven ticks in a row: past the 5 s that channels-redis blocks in a receive, when a Redis
    read timeout of 5 s used to cut an idle socket off."""
    attempt, received = await ticks_of_a_new_attempt(server, token_for(student), exam.pk, 7)
    deadline = ts(attempt["deadline"])
    for frame, _ in received:
        assert (frame["type"], frame["status"], frame["deadline"]) == ("timer", "ongoing", attempt["deadline"])
        assert frame["remaining_seconds"] == math.ceil(deadline - ts(frame["server_time"]))
    times = [ts(frame["server_time"]) for frame, _ in received]
    assert times == sorted(times) and times[-1] - times[0] >= 5


@pytest.mark.timing
async def test_ticks_once_a_second_on_second_boundaries(server, student, exam):
    _, ticks = await ticks_of_a_new_attempt(server, token_for(student), exam.pk, 4)
    for frame, arrived in ticks:
        server_time = ts(frame["server_time"])
        # Made just after a second boundary, and received soon after it.
        assert server_time - math.floor(server_time) < 0.25, frame["server_time"]
        assert arrived - math.floor(server_time) < 0.25, (frame["server_time"], arrived)
    times = [ts(frame["server_time"]) for frame, _ in ticks]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(0.8 <= gap <= 1.2 for gap in gaps), gaps
    remaining = [frame["remaining_seconds"] for frame, _ in ticks]
    assert remaining == list(range(remaining[0], remaining[0] - 4, -1))


async def test_extend_over_rest_is_pushed(server, student, proctor, exam):
    attempt = await start(server, token_for(student), exam.pk)
    async with open_ws(server, attempt_path(attempt["attempt_id"]), token_for(student)) as ws:
        await recv(ws)
        status, body = await rest(
            server, "POST", f"/api/exam/timer/extend/{attempt['attempt_id']}/", token_for(proctor), {"seconds": 90}
        )
        assert status == 200, body
        pushed = await recv_event(ws)
    assert pushed["type"] == "extended"
    assert pushed["added_seconds"] == 90
    assert pushed["deadline"] == body["deadline"]
    assert ts(pushed["deadline"]) - ts(attempt["deadline"]) == pytest.approx(90, abs=0.002)
    assert pushed["remaining_seconds"] == math.ceil(ts(pushed["deadline"]) - ts(pushed["server_time"]))


@pytest.mark.timing
async def test_a_proctor_s_extend_on_one_process_reaches_a_student_on_another_within_a_second(
    server, student, proctor, exam
):
    attempt = await start(server, token_for(student), exam.pk)
    with daphne() as other:
        async with (
            open_ws(server, attempt_path(attempt["attempt_id"]), token_for(student)) as ws,
            open_ws(other, proctor_path(exam.pk), token_for(proctor)) as desk,
        ):
            await recv(ws)
            assert (await recv(desk))["type"] == "snapshot"
            started = time.monotonic()
            await desk.send(json.dumps({"type": "extend", "attempt_id": attempt["attempt_id"], "seconds": 60}))
            pushed = await recv_event(ws)
            took = time.monotonic() - started
    assert pushed["type"] == "extended"
    assert took < 1, took


@pytest.mark.timing
async def test_timeout_is_pushed_soon_after_the_deadline(student, make_user, make_exam):
    exam = await asyncio.to_thread(make_exam, duration=2)
    with daphne() as base, listener():
        # Ready when it listens for expired keys on our Redis database.
        redis, channel = get_redis(), f"__keyevent@{get_redis().connection_pool.connection_kwargs['db']}__:expired"
        end = time.monotonic() + 20
        while dict(redis.pubsub_numsub(channel)).get(channel.encode(), 0) < 1:
            assert time.monotonic() < end, "the listener did not start"
            await asyncio.sleep(0.05)

        attempt = await start(base, token_for(student), exam.pk)
        deadline = ts(attempt["deadline"])
        # Another student, with time left, on the same process: its ticks show the ticker's passes.
        other = await asyncio.to_thread(make_user)
        witness_attempt = await start(base, token_for(other), (await asyncio.to_thread(make_exam)).pk)
        async with (
            open_ws(base, attempt_path(attempt["attempt_id"]), token_for(student)) as ws,
            open_ws(base, attempt_path(witness_attempt["attempt_id"]), token_for(other)) as witness,
        ):
            assert (await recv(ws))["type"] == "timer"
            pushed = await recv_type(ws, "timeout", timeout=5)
            arrived = time.time()
            # Ended: the ticker stops, the socket stays open. Two passes begin after the end
            # arrived (the first would tick this socket, the second shows the first is over);
            # then the reply to a message must be the socket's next frame.
            passes = 0
            while passes < 2:
                passes += ts((await recv_type(witness, "timer"))["server_time"]) > arrived
            await ws.send(json.dumps({"type": "submit", "request_id": "after"}))
            reply = await recv(ws)
            assert (reply["type"], reply.get("request_id")) == ("timeout", "after"), reply
        status, body = await rest(
            base, "GET", f"/api/exam/timer/remaining/{attempt['attempt_id']}/", token_for(student)
        )

    assert (pushed["attempt_id"], pushed["status"], pushed["score"], pushed["max_score"]) == (
        attempt["attempt_id"],
        "timeout",
        0,
        3,
    )
    assert 0 <= arrived - deadline <= 1.5, arrived - deadline
    assert (status, body["status"], body["remaining_seconds"]) == (200, "timeout", 0)


# --- answers and bad input ------------------------------------------------------------------


async def test_socket_answer_is_visible_over_rest(server, student, exam):
    token = token_for(student)
    attempt = await start(server, token, exam.pk)
    status, before = await rest(server, "GET", f"/api/exam/timer/questions/{attempt['attempt_id']}/", token)
    question_ids = [q["id"] for q in before["questions"]]
    async with open_ws(server, attempt_path(attempt["attempt_id"]), token) as ws:
        await recv(ws)
        reply = await ask(
            ws, {"type": "answer", "question_id": question_ids[1], "selected_option": "B", "request_id": "a1"}
        )
        assert (reply["type"], reply["request_id"], reply["question_id"]) == ("answer_saved", "a1", question_ids[1])
        status, after = await rest(server, "GET", f"/api/exam/timer/questions/{attempt['attempt_id']}/", token)

    assert status == 200
    chosen = {q["id"]: q["selected_option"] for q in after["questions"]}
    assert chosen == {question_ids[0]: None, question_ids[1]: "B", question_ids[2]: None}
    assert all("correct_option" not in q for q in after["questions"])


async def test_bad_messages_keep_the_socket_open(server, student, exam):
    token = token_for(student)
    attempt = await start(server, token, exam.pk)
    status, questions = await rest(server, "GET", f"/api/exam/timer/questions/{attempt['attempt_id']}/", token)
    question_id = questions["questions"][0]["id"]
    async with open_ws(server, attempt_path(attempt["attempt_id"]), token) as ws:
        await recv(ws)
        assert (await ask(ws, "not json"))["code"] == "malformed_json"
        assert (await ask(ws, b"\x00binary"))["code"] == "unsupported_media_type"
        assert (await ask(ws, {"type": "nope", "request_id": "u"}))["code"] == "unknown_type"
        reply = await ask(ws, {"type": "answer", "question_id": "x", "selected_option": "A", "request_id": 5})
        assert (reply["code"], reply["request_id"]) == ("invalid", 5)
        big = json.dumps({"type": "answer", "question_id": question_id, "selected_option": "A", "pad": "x" * 5000})
        assert (await ask(ws, big))["code"] == "message_too_large"
        assert (await ask(ws, {"type": "answer", "question_id": question_id, "selected_option": "Q"}))["code"] == (
            "invalid_option"
        )
        # Still open and served.
        reply = await ask(
            ws, {"type": "answer", "question_id": question_id, "selected_option": "A", "request_id": "ok"}
        )
        assert (reply["type"], reply["request_id"]) == ("answer_saved", "ok")
        # A flood is throttled without closing the socket.
        for i in range(60):
            await ws.send(json.dumps({"type": "nope", "request_id": i}))
        codes = [(await recv_event(ws))["code"] for _ in range(60)]
        assert codes.count("throttled") >= 30, codes
        await asyncio.sleep(0.3)  # the bucket refills with time (3 messages' worth): the submit is served
        reply = await ask(ws, {"type": "submit", "request_id": "end"})
        assert (reply["type"], reply["request_id"], reply["score"]) == ("submitted", "end", 1)


# --- a token that expires during the exam -------------------------------------------------------


def expiry_of(token: str) -> float:
    """A JWT's `exp` (read, not verified: the server verifies it)."""
    return jwt.decode(token, options={"verify_signature": False})["exp"]


async def test_a_socket_lives_as_long_as_its_token_unless_renewed_in_band(student, proctor, exam):
    """Issue 10 §1: a socket used to stay open past its token's expiry, for as long as it was open."""
    with daphne(JWT_ACCESS_MINUTES=0.1, WS_RIGHTS_REFRESH_SECONDS=0.5) as base:  # 6-second access tokens
        status, tokens = await rest(
            base, "POST", "/api/auth/login/", body={"username": student.username, "password": "pw"}
        )
        assert status == 200, tokens
        expires = expiry_of(tokens["access"])
        attempt = await start(base, tokens["access"], exam.pk)
        path = attempt_path(attempt["attempt_id"])

        async with open_ws(base, path, tokens["access"]) as renewed, open_ws(base, path, tokens["access"]) as lapsed:
            assert (await recv(renewed))["type"] == "timer"
            assert (await recv(lapsed))["type"] == "timer"
            # Halfway through the token's life the client renews it in-band, on one socket only.
            while ts((await recv_type(renewed, "timer"))["server_time"]) < expires - 3:
                pass
            status, fresh = await rest(base, "POST", "/api/auth/refresh/", body={"refresh": tokens["refresh"]})
            assert status == 200, fresh
            assert expiry_of(fresh["access"]) > expires
            reply = await ask(renewed, {"type": "auth", "token": fresh["access"], "request_id": "renew"})
            assert (reply["type"], reply["request_id"]) == ("auth_ok", "renew")
            assert ts(reply["expires_at"]) == expiry_of(fresh["access"])

            # The other socket is closed with 4401 once the token has run out...
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await recv(lapsed, timeout=expires - time.time() + WAIT)
            assert closed.value.rcvd.code == 4401
            assert time.time() >= expires
            # ...and the old token opens nothing more, nor reads over REST...
            assert await close_code(base, path, tokens["access"]) == 4401
            status, body = await rest(
                base, "GET", f"/api/exam/timer/remaining/{attempt['attempt_id']}/", tokens["access"]
            )
            assert status == 401, body
            # ...while the renewed socket goes on: pushed events, and ticks past the old expiry and
            # the server's checks after it.
            status, extended = await rest(
                base, "POST", f"/api/exam/timer/extend/{attempt['attempt_id']}/", token_for(proctor), {"seconds": 120}
            )
            assert status == 200, extended
            assert (await recv_event(renewed))["type"] == "extended"
            while ts((tick := await recv_type(renewed, "timer"))["server_time"]) < expires + 1:
                pass
            assert tick["status"] == "ongoing"

            # A reload: the fresh token opens a socket with the current state at once.
            async with open_ws(base, path, fresh["access"]) as again:
                snapshot = await recv(again)

    assert snapshot["type"] == "timer"
    assert snapshot["status"] == "ongoing"
    assert snapshot["deadline"] == extended["deadline"]
    assert snapshot["remaining_seconds"] == math.ceil(ts(extended["deadline"]) - ts(snapshot["server_time"]))
    assert snapshot["remaining_seconds"] > 120


# --- two server processes, one Redis ----------------------------------------------------------


async def test_two_processes_share_everything(server, student, proctor, exam):
    with daphne() as other:
        async with open_ws(other, proctor_path(exam.pk), token_for(proctor)) as desk:
            snapshot = await recv(desk)
            assert (snapshot["type"], snapshot["rows"]) == ("snapshot", [])

            # The student works on process A, the proctor watches on process B.
            attempt = await start(server, token_for(student), exam.pk)
            attempt_id = attempt["attempt_id"]
            event = await recv(desk)
            assert (event["type"], event["attempt"]["attempt_id"]) == ("attempt_started", attempt_id)

            status, questions = await rest(
                server, "GET", f"/api/exam/timer/questions/{attempt_id}/", token_for(student)
            )
            question_id = questions["questions"][0]["id"]
            async with open_ws(server, attempt_path(attempt_id), token_for(student)) as ws:
                await recv(ws)
                event = await recv(desk)
                assert (event["type"], event["attempt"]["connected"]) == ("student_connected", True)

                await ask(ws, {"type": "answer", "question_id": question_id, "selected_option": "A"})
                event = await recv(desk)
                assert (event["type"], event["attempt"]["answered"]) == ("answer_saved", 1)

                await desk.send(
                    json.dumps({"type": "extend", "attempt_id": attempt_id, "seconds": 60, "request_id": "p1"})
                )
                pushed = await recv_event(ws)
                assert (pushed["type"], pushed["added_seconds"]) == ("extended", 60)
                frames = {f["type"]: f for f in [await recv(desk), await recv(desk)]}
                assert (frames["ack"]["request_id"], frames["ack"]["deadline"]) == ("p1", pushed["deadline"])
                assert frames["attempt_extended"]["attempt"]["deadline"] == pushed["deadline"]
                # Ticks on A count down from the deadline set on B.
                tick = await recv_type(ws, "timer")
                assert tick["deadline"] == pushed["deadline"]

                # The same student on process B too (a second tab): current state at once.
                async with open_ws(other, attempt_path(attempt_id), token_for(student)) as tab:
                    state = await recv(tab)
                    assert (state["type"], state["deadline"]) == ("timer", pushed["deadline"])
                    # Submitting on A ends it for the tab on B as well.
                    result = await ask(ws, {"type": "submit"})
                    assert (result["type"], result["score"]) == ("submitted", 1)
                    assert (await recv_event(tab))["type"] == "submitted"
                event = await recv(desk)
                assert (event["type"], event["attempt"]["status"], event["attempt"]["score"]) == (
                    "attempt_submitted",
                    "completed",
                    1,
                )
            event = await recv(desk)
            assert (event["type"], event["attempt"]["connected"]) == ("student_disconnected", False)
