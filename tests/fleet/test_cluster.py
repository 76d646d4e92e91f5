"""The fleet as production runs it (`make cluster`): every request and socket goes through
HAProxy to one of two daphnes; Redis is a master, a replica and three sentinels.

- a student and a proctor on different daphnes see each other's every step;
- the Redis master killed mid-exam: timeouts due meanwhile land within 2 s of the promotion,
  no acknowledged answer is lost, every socket has the right state again within 10 s;
- a daphne killed: its students are back through the load balancer within 2 s.
The tests that break something run last; each needs only a fleet that works when it starts.
"""

import asyncio
import json
import time
from datetime import datetime

import pytest
import redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from exams.models import Answer, Attempt, AttemptStatus
from fleet.launcher import Fleet
from tests.conftest import token_for
from tests.support.contract_check import check_text
from tests.support.http import rest_call

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

WAIT = 10


# --- helpers ----------------------------------------------------------------------------


async def rest(fleet: Fleet, method: str, path: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    return await asyncio.to_thread(rest_call, fleet.url, method, path, token, body, timeout=WAIT)


async def start(fleet: Fleet, token: str, exam_id: int) -> dict:
    status, body = await rest(fleet, "POST", f"/api/exam/timer/start/{exam_id}/", token)
    assert status == 201, body
    return body


def open_ws(fleet: Fleet, path: str, token: str):
    return connect(f"{fleet.url.replace('http', 'ws')}{path}?token={token}", origin=fleet.url, open_timeout=WAIT)


def backend(ws: ClientConnection) -> str:
    """The daphne HAProxy sent the socket to."""
    assert ws.response is not None
    return ws.response.headers["X-Served-By"]


async def recv(ws: ClientConnection, timeout: float = WAIT) -> dict:
    """The next frame, checked against its declaration (exams/contract)."""
    return check_text(ws.request.path, await asyncio.wait_for(ws.recv(), timeout))


async def recv_type(ws: ClientConnection, kind: str, timeout: float = WAIT) -> dict:
    end = time.monotonic() + timeout
    while True:
        frame = await recv(ws, max(0.01, end - time.monotonic()))
        if frame["type"] == kind:
            return frame


def question_ids(exam, count: int) -> list[int]:
    return list(exam.questions.order_by("order").values_list("pk", flat=True)[:count])


def ts(moment: str) -> float:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()


# --- a student and a proctor on different daphnes ---------------------------------------------


async def test_a_student_and_a_proctor_on_different_daphnes_see_everything(fleet, make_exam, student, proctor):
    exam = await asyncio.to_thread(make_exam, duration=600)
    [question] = await asyncio.to_thread(question_ids, exam, 1)
    student_token, proctor_token = token_for(student), token_for(proctor)
    async with open_ws(fleet, f"/ws/proctor/exams/{exam.pk}/", proctor_token) as watcher:
        await recv_type(watcher, "snapshot")
        attempt = await start(fleet, student_token, exam.pk)
        assert (await recv_type(watcher, "attempt_started"))["attempt"]["attempt_id"] == attempt["attempt_id"]
        path = f"/ws/attempts/{attempt['attempt_id']}/"
        # Least connections: while the proctor's socket is open, the next socket goes to the other daphne.
        async with open_ws(fleet, path, student_token) as sitter:
            assert backend(sitter) != backend(watcher), "HAProxy put both sockets on one daphne"
            await recv_type(sitter, "timer")
            assert (await recv_type(watcher, "student_connected"))["attempt"]["attempt_id"] == attempt["attempt_id"]

            await sitter.send(json.dumps({"type": "answer", "question_id": question, "selected_option": "A"}))
            assert (await recv_type(sitter, "answer_saved"))["selected_option"] == "A"
            assert (await recv_type(watcher, "answer_saved"))["attempt"]["attempt_id"] == attempt["attempt_id"]

            await watcher.send(json.dumps({"type": "extend", "attempt_id": attempt["attempt_id"], "seconds": 60}))
            await recv_type(watcher, "ack")
            extended = await recv_type(sitter, "extended")
            assert ts(extended["deadline"]) == pytest.approx(ts(attempt["deadline"]) + 60, abs=0.01)

            await sitter.send(json.dumps({"type": "submit"}))
            assert (await recv_type(sitter, "submitted"))["score"] == 1
            assert (await recv_type(watcher, "attempt_submitted"))["attempt"]["status"] == "completed"
        assert (await recv_type(watcher, "student_disconnected"))["attempt"]["attempt_id"] == attempt["attempt_id"]


# --- the Redis master killed mid-exam -----------------------------------------------------


class Promotion:
    """When the sentinels' leader promoted the replica (`+promoted-slave`: only the leader
    publishes it, so all three are watched)."""

    def __init__(self, fleet: Fleet) -> None:
        self.ports = [s.port for s in fleet.redis.sentinels]
        self.at: float | None = None
        self.done = asyncio.Event()
        self.subscribed = 0

    async def _watch(self, port: int) -> None:
        client = redis.asyncio.Redis(port=port)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe("+promoted-slave")
                self.subscribed += 1
                async for message in pubsub.listen():
                    if message["type"] == "message" and self.at is None:
                        self.at = time.time()
                        self.done.set()
        finally:
            await client.aclose()

    async def watch(self) -> None:
        await asyncio.gather(*(self._watch(port) for port in self.ports))


async def answer_steadily(ws: ClientConnection, questions: list[int], acked: dict[int, str], stop: asyncio.Event):
    """One answer every 50 ms, each to a new question, until `stop` or the questions run out;
    records each acknowledged one (question -> option)."""
    for n, question in enumerate(questions):
        if stop.is_set():
            return
        option = "AB"[n % 2]
        await ws.send(
            json.dumps({"type": "answer", "question_id": question, "selected_option": option, "request_id": n})
        )
        while True:
            frame = await recv(ws)
            if frame.get("request_id") == n:
                break
        if frame["type"] == "answer_saved":
            acked[question] = option
        await asyncio.sleep(0.05)


async def test_the_redis_master_killed_mid_exam(fleet, make_exam, make_user):
    # Deadlines 2..7 s out: the failover (about 2-3 s) falls among them, some due while it runs.
    durations = [2, 3, 3, 4, 4, 5, 6, 7]
    exams = {d: await asyncio.to_thread(make_exam, duration=d) for d in sorted(set(durations))}
    writer_exam = await asyncio.to_thread(make_exam, duration=600, questions=80)
    questions = await asyncio.to_thread(question_ids, writer_exam, 80)
    users = [await asyncio.to_thread(make_user) for _ in range(len(durations) + 1)]
    writer_token = token_for(users[-1])
    writer_attempt = await start(fleet, writer_token, writer_exam.pk)
    attempts = [await start(fleet, token_for(user), exams[d].pk) for user, d in zip(users, durations, strict=False)]
    sockets = [
        await open_ws(fleet, f"/ws/attempts/{a['attempt_id']}/", token_for(user))
        for a, user in zip(attempts, users, strict=False)
    ]
    writer = await open_ws(fleet, f"/ws/attempts/{writer_attempt['attempt_id']}/", writer_token)
    try:
        for ws in [*sockets, writer]:
            await recv_type(ws, "timer")
        promotion = Promotion(fleet)
        watching = asyncio.create_task(promotion.watch())
        while promotion.subscribed < len(promotion.ports):
            await asyncio.sleep(0.01)  # polling our own counter: subscribing has no event to wait on
        acked: dict[int, str] = {}
        stop_writing = asyncio.Event()
        writing = asyncio.create_task(answer_steadily(writer, questions, acked, stop_writing))

        killed_at = time.time()
        fleet.redis.master.kill()
        await asyncio.wait_for(promotion.done.wait(), 15)
        watching.cancel()
        assert promotion.at is not None
        promoted_at = promotion.at
        # Every socket gets its attempt's end (a push, or the resync after the outage) within 10 s.
        ended_frames = await asyncio.gather(*(recv_type(ws, "timeout", timeout=10 + 7) for ws in sockets))
        back_by = time.time()
        stop_writing.set()
        await writing
        # The sitting student's socket is live again: a tick with its deadline, after the promotion.
        tick = await recv_type(writer, "timer")
        assert tick["status"] == "ongoing" and ts(tick["deadline"]) == pytest.approx(ts(writer_attempt["deadline"]))
    finally:
        for ws in [*sockets, writer]:
            await ws.close()

    assert [f["attempt_id"] for f in ended_frames] == [a["attempt_id"] for a in attempts]
    assert back_by - max(promoted_at, max(ts(a["deadline"]) for a in attempts)) <= 10
    rows = await asyncio.to_thread(
        lambda: {a.pk: a for a in Attempt.objects.filter(pk__in=[x["attempt_id"] for x in attempts])}
    )
    lateness = {}
    for attempt in attempts:
        row = rows[attempt["attempt_id"]]
        assert row.status == AttemptStatus.TIMEOUT
        due = row.deadline_at.timestamp()
        # Due before the promotion: within 2 s of it; due after: within 2 s of its deadline.
        lateness[row.pk] = row.ended_at.timestamp() - max(due, promoted_at)
    during = [a for a in attempts if killed_at <= ts(a["deadline"]) <= promoted_at]
    print(
        f"failover: promoted {promoted_at - killed_at:.2f}s after the kill; {len(during)} timeouts due during it; "
        f"lateness past max(deadline, promotion) max {max(lateness.values()):.2f}s; sockets back "
        f"{back_by - promoted_at:.2f}s after the promotion; {len(acked)} answers acknowledged"
    )
    assert during, "no deadline fell inside the failover: the test proved nothing"
    assert max(lateness.values()) <= 2.0, lateness
    saved = await asyncio.to_thread(
        lambda: dict(
            Answer.objects.filter(attempt_id=writer_attempt["attempt_id"]).values_list("question_id", "selected_option")
        )
    )
    assert acked and all(saved.get(q) == option for q, option in acked.items()), (acked, saved)


# --- a daphne killed ------------------------------------------------------------------------


async def test_a_killed_daphnes_students_are_back_within_2_seconds(fleet, make_exam, make_user):
    exam = await asyncio.to_thread(make_exam, duration=600)
    users = [await asyncio.to_thread(make_user) for _ in range(6)]
    attempts = [await start(fleet, token_for(user), exam.pk) for user in users]
    paths = [(f"/ws/attempts/{a['attempt_id']}/", token_for(u)) for a, u in zip(attempts, users, strict=True)]
    sockets = [await open_ws(fleet, path, token) for path, token in paths]
    try:
        for ws in sockets:
            await recv_type(ws, "timer")
        served = [backend(ws) for ws in sockets]
        assert len(set(served)) == 2, served
        victim = served[0]
        on_victim = [i for i, name in enumerate(served) if name == victim]

        killed_at = time.monotonic()
        fleet.kill_daphne(int(victim.removeprefix("web")))

        async def back(i: int) -> float:
            """Wait for the close (no frame is lost silently: the socket must end), then reconnect at once."""
            with pytest.raises(ConnectionClosed):
                while True:
                    await asyncio.wait_for(sockets[i].recv(), WAIT)
            while True:
                try:
                    ws = await open_ws(fleet, *paths[i])
                    break
                except OSError:
                    await asyncio.sleep(0.05)  # the student's retry
            sockets[i] = ws
            frame = await recv_type(ws, "timer")
            assert frame["attempt_id"] == attempts[i]["attempt_id"] and frame["status"] == "ongoing"
            assert backend(ws) != victim
            return time.monotonic() - killed_at

        delays = await asyncio.gather(*(back(i) for i in on_victim))
        print(f"daphne killed: {len(delays)} students back in max {max(delays):.2f}s")
        assert max(delays) <= 2.0, delays
        # The others never noticed: their sockets still tick.
        for i in set(range(len(sockets))) - set(on_victim):
            assert (await recv_type(sockets[i], "timer"))["status"] == "ongoing"
    finally:
        for ws in sockets:
            await ws.close()
