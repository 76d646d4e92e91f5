"""Database connections of real daphne and listener processes on MySQL (issue 8 §1).

Under ASGI a persistent connection opened by a request outlives it (each request runs in a
thread of its own), so a few hundred requests used to exhaust MariaDB's 151 connections. The
connections each process holds are counted from outside in `information_schema.PROCESSLIST`.
"""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from websockets.asyncio.client import connect

from exams import services
from exams.expiry.listener import BATCHES_IN_FLIGHT, NOTIFY_THREADS
from exams.models import Attempt, AttemptStatus
from tests.conftest import token_for
from tests.support.contract_check import check_text
from tests.support.http import rest_call
from tests.support.processes import daphne, listener

pytestmark = [pytest.mark.network, pytest.mark.django_db(transaction=True)]

REQUESTS = 300
CONCURRENCY = 10
SOCKETS = 20
POOL_SIZE = 4
# Requests whose connection is still being closed just after the client got their response.
STRAGGLERS = 2
# What one daphne may hold once its requests are answered: its socket pool and stragglers.
HELD_BOUND = POOL_SIZE + STRAGGLERS
WAIT = 10


@pytest.fixture
def processlist() -> "ProcessList":
    if connection.vendor != "mysql":
        pytest.skip("counts server connections in MySQL's PROCESSLIST; SQLite has none")
    counter = ProcessList()
    yield counter
    counter.close()


class ProcessList:
    """Connections to the test database, seen from a connection of its own on no database."""

    def __init__(self) -> None:
        import MySQLdb

        db = connection.settings_dict
        self.name = db["NAME"]
        self.conn = MySQLdb.connect(
            host=db["HOST"] or "127.0.0.1",
            port=int(db["PORT"] or 3306),
            user=db["USER"],
            password=db["PASSWORD"] or "",
            autocommit=True,
        )

    def ids(self) -> set[int]:
        with self.conn.cursor() as cursor:
            cursor.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s", [self.name])
            return {row[0] for row in cursor.fetchall()}

    def settle(self, others: set[int], bound: int) -> set[int]:
        """The connections beyond `others` once at most `bound` remain (or after WAIT seconds)."""
        end = time.monotonic() + WAIT
        while len(held := self.ids() - others) > bound and time.monotonic() < end:
            time.sleep(0.05)
        return held

    def appear(self, others: set[int]) -> set[int]:
        """The connections beyond `others` once there are some (or after WAIT seconds)."""
        end = time.monotonic() + WAIT
        while not (held := self.ids() - others) and time.monotonic() < end:
            time.sleep(0.02)
        return held

    def close(self) -> None:
        self.conn.close()


def session(base: str, username: str, exam_id: int) -> list[int]:
    """Five REST calls of a student: login, me, exams, start (or resume), remaining."""
    status, tokens = rest_call(base, "POST", "/api/auth/login/", body={"username": username, "password": "pw"})
    token = tokens.get("access")
    statuses = [status]
    statuses.append(rest_call(base, "GET", "/api/me/", token)[0])
    statuses.append(rest_call(base, "GET", "/api/exams/", token)[0])
    status, attempt = rest_call(base, "POST", f"/api/exam/timer/start/{exam_id}/", token)
    statuses.append(200 if status == 201 else status)
    statuses.append(rest_call(base, "GET", f"/api/exam/timer/remaining/{attempt.get('attempt_id')}/", token)[0])
    return statuses


async def first_frame(base: str, path: str, token: str):
    """An open socket that has received its first `timer` frame (its connect's database work done)."""
    ws = await connect(f"{base.replace('http://', 'ws://')}{path}?token={token}", origin=base, open_timeout=WAIT)
    assert check_text(ws.request.path, await asyncio.wait_for(ws.recv(), WAIT))["type"] == "timer"
    return ws


@pytest.fixture
def students(make_user) -> list:
    return [make_user() for _ in range(CONCURRENCY)]


@pytest.fixture
def long_exam(make_exam):
    return make_exam(duration=3600)


async def test_daphne_holds_a_bounded_set_of_connections(processlist, students, long_exam):
    exam = long_exam
    others = processlist.ids()  # this test process's own
    # Two waves of 20 sockets of one student: past the per-user caps (4429), not what is measured here.
    caps = {"WS_MAX_SOCKETS_PER_USER": 2 * SOCKETS, "WS_MAX_SOCKETS_PER_ATTEMPT": 2 * SOCKETS}
    with daphne(DB_POOL_SIZE=POOL_SIZE, **caps) as base:
        # REST: 300 calls, 10 at a time; no connection may outlive its request.
        sessions = [students[i % len(students)].username for i in range(REQUESTS // 5)]
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(CONCURRENCY) as clients:
            results = await asyncio.gather(
                *(loop.run_in_executor(clients, session, base, name, exam.pk) for name in sessions)
            )
        assert {status for statuses in results for status in statuses} == {200}
        after_rest = await asyncio.to_thread(processlist.settle, others, STRAGGLERS)
        print(f"after {REQUESTS} requests: daphne holds {len(after_rest)} connections")
        assert len(after_rest) <= STRAGGLERS

        # Sockets: 20 on one student's attempt share the process's pool of POOL_SIZE threads.
        status, attempt = await asyncio.to_thread(
            rest_call, base, "POST", f"/api/exam/timer/start/{exam.pk}/", token_for(students[0])
        )
        assert status == 200, attempt
        path, token = f"/ws/attempts/{attempt['attempt_id']}/", token_for(students[0])
        sockets = await asyncio.gather(*(first_frame(base, path, token) for _ in range(SOCKETS)))
        with_sockets = await asyncio.to_thread(processlist.settle, others, HELD_BOUND)
        print(f"with {SOCKETS} sockets open: daphne holds {len(with_sockets)} connections")
        assert len(with_sockets) <= HELD_BOUND
        # The pool keeps its connections: after a second wave they are the same ones, still bounded.
        pooled = with_sockets - after_rest
        sockets += await asyncio.gather(*(first_frame(base, path, token) for _ in range(SOCKETS)))
        await asyncio.gather(*(ws.close() for ws in sockets))
        after_wave = await asyncio.to_thread(processlist.settle, others, HELD_BOUND)
        print(f"after {2 * SOCKETS} sockets closed: daphne holds {len(after_wave)} connections")
        assert len(after_wave) <= HELD_BOUND
        assert pooled and pooled <= after_wave


def test_the_listener_keeps_one_connection_per_thread(processlist, student, make_exam):
    exam = make_exam(duration=1)
    others = processlist.ids()
    with listener(RECONCILE_INTERVAL_SECONDS=0.2) as proc:
        # The reconciler runs at start and every 0.2 s, in a thread that keeps its connection.
        first = processlist.appear(others)
        assert first, proc.log_path.read_text()
        attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt
        end = time.monotonic() + WAIT
        while not Attempt.objects.filter(pk=attempt.pk, status=AttemptStatus.TIMEOUT).exists():
            assert time.monotonic() < end, proc.log_path.read_text()
            time.sleep(0.05)
        # Many reconciles, a batch and its notifications later: the first connection is still
        # there, and no more than one per thread.
        held = processlist.ids() - others
        print(f"listener holds {len(held)} connections")
        assert first <= held
        assert len(held) <= BATCHES_IN_FLIGHT + 1 + NOTIFY_THREADS


BURST = 80
HTTP_SLOTS = 5


async def test_a_burst_of_requests_holds_at_most_http_concurrency_connections(processlist, students, long_exam):
    """200 students pressing reload at once must not take 200 of MariaDB's 151 connections."""
    others = processlist.ids()
    with daphne(DB_POOL_SIZE=POOL_SIZE, HTTP_CONCURRENCY=HTTP_SLOTS) as base:
        tokens = [token_for(students[i % len(students)]) for i in range(BURST)]
        peak, done = 0, False

        def sample() -> None:
            nonlocal peak
            while not done:
                peak = max(peak, len(processlist.ids() - others))
                time.sleep(0.005)  # the sampling period: the burst lasts far longer

        sampler = asyncio.get_running_loop().run_in_executor(None, sample)
        with ThreadPoolExecutor(BURST) as clients:
            loop = asyncio.get_running_loop()
            statuses = await asyncio.gather(
                *(loop.run_in_executor(clients, rest_call, base, "GET", "/api/exams/", token) for token in tokens)
            )
        done = True
        await sampler
    assert {status for status, _ in statuses} == {200}
    print(f"{BURST} requests at once: at most {peak} connections")
    assert 0 < peak <= HTTP_SLOTS + STRAGGLERS
