"""SIGTERM to a real daphne with sockets open and answers in flight: a drain, not a crash.

Deploys happen during exams. Every socket must end with 1012 (reconnect now, elsewhere), every
answer request the server accepted must get its response (and a 200 must be stored), this
process's presence must be gone, and the process must exit by itself, with 0, within the grace.
"""

import asyncio
import http.client
import json
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
from websockets.exceptions import ConnectionClosed

from exams import presence
from exams.models import Answer, AttemptEvent, EventKind
from tests.conftest import token_for
from tests.realtime.test_sockets_network import WAIT, attempt_path, open_ws, proctor_path, recv, rest, start
from tests.support.processes import daphne_process

pytestmark = [pytest.mark.network, pytest.mark.django_db(transaction=True)]

STUDENTS = 30
WRITERS = 40  # answer requests in flight at once, one per client
QUESTIONS = 40  # each (attempt, question) is answered at most once: a stored answer is that request's
GRACE = 5
SIGNALLED = threading.Event()


@dataclass
class Writer:
    """One REST client posting answers in a loop, each on a new connection, until the server refuses it."""

    base: str
    jobs: list  # (token, attempt_id, question_id, option)
    sending: bool = False
    ok: list = field(default_factory=list)  # (attempt_id, question_id, option) answered 200
    other: list = field(default_factory=list)  # (status, body) of any other response
    cut: list = field(default_factory=list)  # accepted, then no response
    refused: bool = False

    def run(self) -> None:
        host, port = self.base.removeprefix("http://").split(":")
        for token, attempt_id, question_id, option in self.jobs:
            conn = http.client.HTTPConnection(host, int(port), timeout=WAIT + GRACE)
            try:
                conn.connect()
            except ConnectionRefusedError:
                self.refused = True  # not listening any more: the client goes elsewhere
                return
            # A connection made after the signal may sit in the kernel's backlog as the port
            # closes: reset unanswered, like a refusal (the client goes elsewhere). One made
            # before it was accepted and under way: it must be answered.
            after_signal = SIGNALLED.is_set()
            self.sending = True
            try:
                conn.request(
                    "POST",
                    "/api/exam/timer/submit-answer/",
                    json.dumps({"attempt_id": attempt_id, "question_id": question_id, "selected_option": option}),
                    {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
                )
                response = conn.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as exc:
                if after_signal and isinstance(exc, ConnectionResetError):
                    self.refused = True
                else:
                    self.cut.append(repr(exc))
                return
            finally:
                self.sending = False
                conn.close()
            if response.status == 200:
                self.ok.append((attempt_id, question_id, option))
            else:
                self.other.append((response.status, body[:200]))


async def final_close_code(ws) -> int:
    """The code of the close frame the server sent (1006: the connection ended without one)."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), WAIT + GRACE)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else 1006


async def wait_present(attempt_ids: list[int], expected: bool) -> None:
    end = time.monotonic() + WAIT
    while set((await asyncio.to_thread(presence.connected_map, attempt_ids)).values()) != {expected}:
        assert time.monotonic() < end, f"presence never became {expected}"
        await asyncio.sleep(0.1)


async def test_sigterm_drains_sockets_and_requests_then_exits(make_user, proctor, make_exam):
    SIGNALLED.clear()
    exam = await asyncio.to_thread(make_exam, questions=QUESTIONS)
    students = [await asyncio.to_thread(make_user) for _ in range(STUDENTS)]

    with daphne_process(SHUTDOWN_GRACE_SECONDS=GRACE) as server:
        base = server.base
        attempts = [(await start(base, token_for(s), exam.pk))["attempt_id"] for s in students]
        status, questions = await rest(base, "GET", f"/api/exam/timer/questions/{attempts[0]}/", token_for(students[0]))
        question_ids = [q["id"] for q in questions["questions"]]

        sockets = []
        for student, attempt_id in zip(students, attempts, strict=False):
            ws = await open_ws(base, attempt_path(attempt_id), token_for(student))
            assert (await recv(ws))["type"] == "timer"
            sockets.append(ws)
        desk = await open_ws(base, proctor_path(exam.pk), token_for(proctor))
        assert (await recv(desk))["type"] == "snapshot"
        sockets.append(desk)
        await wait_present(attempts, True)

        # Every (attempt, question) once, dealt round-robin to the writers.
        pairs = list(zip(students, attempts, strict=True))
        jobs = [(token_for(s), a, q, "AB"[(a + q) % 2]) for q in question_ids for s, a in pairs]
        writers = [Writer(base, jobs[i::WRITERS]) for i in range(WRITERS)]
        threads = [threading.Thread(target=w.run, daemon=True) for w in writers]
        for thread in threads:
            thread.start()
        end = time.monotonic() + WAIT
        while sum(len(w.ok) for w in writers) < WRITERS:
            assert time.monotonic() < end, "the answers never got going"
            await asyncio.sleep(0.02)

        in_flight = sum(w.sending for w in writers)
        signalled = time.monotonic()
        SIGNALLED.set()
        server.send_signal(signal.SIGTERM)
        codes = await asyncio.gather(*(final_close_code(ws) for ws in sockets))
        closed_after = time.monotonic() - signalled
        try:
            exit_code = await asyncio.to_thread(server.wait, GRACE + 10)
        except subprocess.TimeoutExpired:
            exit_code = None  # still running: the fixture kills it
        took = time.monotonic() - signalled
        for thread in threads:
            await asyncio.to_thread(thread.join, WAIT)
        log = server.log_path.read_text()

    cut = [c for w in writers for c in w.cut]
    print(
        f"\n{in_flight} answer requests in flight at SIGTERM, {len(cut)} cut off; sockets closed with "
        f"{Counter(codes)} {closed_after:.2f}s after it; exit {exit_code} after {took:.2f}s"
    )
    assert cut == [], cut
    assert [o for w in writers for o in w.other] == []
    assert in_flight >= WRITERS // 2  # the signal did land among requests under way
    assert all(w.refused or len(w.ok) == len(w.jobs) for w in writers)
    assert codes == [1012] * len(sockets), log[-3000:]
    # By itself, not the watchdog's FORCED_EXIT_CODE: within the grace and its margin (`took` is printed above).
    assert exit_code == 0, log[-3000:]

    ok = {(a, q): option for w in writers for a, q, option in w.ok}
    stored = await asyncio.to_thread(
        lambda: {
            (a.attempt_id, a.question_id): a.selected_option for a in Answer.objects.filter(attempt_id__in=attempts)
        }
    )
    assert stored == ok

    assert set((await asyncio.to_thread(presence.connected_map, attempts)).values()) == {False}
    disconnected = await asyncio.to_thread(
        lambda: set(
            AttemptEvent.objects.filter(attempt_id__in=attempts, kind=EventKind.DISCONNECTED).values_list(
                "attempt_id", flat=True
            )
        )
    )
    assert disconnected == set(attempts)
