"""Issue 10 §1 and §2 over the network (real daphne, `websockets` clients): rights taken away
close open sockets within seconds, and one account's flood of sockets and messages is cut
down to its share without slowing another student."""

import asyncio
import json
import statistics
import sys
import time
from asyncio.subprocess import PIPE
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from websockets.exceptions import ConnectionClosed

from tests.conftest import token_for
from tests.support.processes import ROOT, daphne

from .test_sockets_network import WAIT, attempt_path, open_ws, proctor_path, recv, recv_type, start

pytestmark = [pytest.mark.network, pytest.mark.django_db(transaction=True)]

# The hub re-reads rights every WS_RIGHTS_REFRESH_SECONDS (2 s by default): "within seconds".
CLOSE_WITHIN = 10


def update_user(pk: int, **fields) -> int:
    return get_user_model().objects.filter(pk=pk).update(**fields)


async def close_code_of(ws, timeout: float = CLOSE_WITHIN) -> int:
    """Read frames until the server closes the socket; its close code."""
    end = time.monotonic() + timeout
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), max(0.01, end - time.monotonic()))
    return closed.value.rcvd.code


async def test_taking_rights_away_closes_open_sockets_within_seconds(student, proctor, make_user, exam):
    other_proctor = await asyncio.to_thread(make_user, staff=True)
    with daphne() as base:
        attempt = await start(base, token_for(student), exam.pk)
        async with (
            open_ws(base, attempt_path(attempt["attempt_id"]), token_for(student)) as learner,
            open_ws(base, proctor_path(exam.pk), token_for(proctor)) as demoted,
            open_ws(base, proctor_path(exam.pk), token_for(other_proctor)) as deactivated,
        ):
            assert (await recv(learner))["type"] == "timer"
            assert (await recv_type(demoted, "snapshot"))["type"] == "snapshot"
            assert (await recv_type(deactivated, "snapshot"))["type"] == "snapshot"

            await asyncio.to_thread(update_user, proctor.pk, is_staff=False)
            await asyncio.to_thread(update_user, other_proctor.pk, is_active=False)
            await asyncio.to_thread(update_user, student.pk, is_active=False)
            codes = await asyncio.gather(close_code_of(demoted), close_code_of(deactivated), close_code_of(learner))
    assert codes == [4403, 4401, 4401]


# --- one account's flood ----------------------------------------------------------------------

FLOOD_LIMITS = {
    "WS_MAX_SOCKETS_PER_USER": 10,
    "WS_MAX_SOCKETS_PER_ATTEMPT": 5,
    "WS_USER_MESSAGES_PER_SECOND": 5,
    "WS_USER_MESSAGE_BURST": 10,
}
# A student answers a few times a second at most (the per-user budget here is 5 a second).
BYSTANDER_PACE = 0.3


async def acknowledged_in(ws, question_id: int, request_id: str) -> float:
    """Send one answer and wait for its acknowledgement; the seconds it took."""
    sent = time.monotonic()
    message = {"type": "answer", "question_id": question_id, "selected_option": "A", "request_id": request_id}
    await ws.send(json.dumps(message))
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        if frame.get("request_id") == request_id:
            assert frame["type"] == "answer_saved", frame
            return time.monotonic() - sent


@dataclass
class Flood:
    refused: list[int]  # close codes of the flooder's handshakes the server refused
    replies: dict[str, int]  # replies to the flood's answers: answer_saved, or the error's code
    seconds: float  # from the first message of the flood to the last reply
    calm_before: list[float]  # the bystander's acknowledgement times before the flood
    calm_during: list[float]  # ...and during it


async def run_flood(base: str, flooder, bystander, exam, *, per_socket: int) -> Flood:
    """The flooder (tests/support/flood.py, a process of its own) opens 7 sockets on its attempt
    and floods answers on those the server keeps, while the bystander answers on a socket of its
    own, one answer at a time, at a student's pace."""
    question_id = await asyncio.to_thread(lambda: exam.questions.values_list("pk", flat=True).first())
    mine = await start(base, token_for(flooder), exam.pk)
    theirs = await start(base, token_for(bystander), exam.pk)
    command = [sys.executable, "-m", "tests.support.flood", base, token_for(flooder), str(mine["attempt_id"])]
    command += [str(question_id), "--sockets", "7", "--per-socket", str(per_socket)]
    proc = await asyncio.create_subprocess_exec(*command, cwd=ROOT, stdin=PIPE, stdout=PIPE)
    try:
        opened = json.loads(await asyncio.wait_for(proc.stdout.readline(), 4 * WAIT))
        async with open_ws(base, attempt_path(theirs["attempt_id"]), token_for(bystander)) as calm:
            assert (await recv(calm))["type"] == "timer"
            before = []
            for i in range(3):
                before.append(await acknowledged_in(calm, question_id, f"calm-before-{i}"))
                await asyncio.sleep(BYSTANDER_PACE)
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
            done = asyncio.ensure_future(proc.stdout.readline())
            during = []
            while not done.done():
                during.append(await acknowledged_in(calm, question_id, f"calm-{len(during)}"))
                await asyncio.sleep(BYSTANDER_PACE)
            flooded = json.loads(await asyncio.wait_for(done, 4 * WAIT))
        assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert opened["opened"] + len(opened["refused"]) == 7, opened
    return Flood(opened["refused"], flooded["replies"], flooded["seconds"], before, during)


async def test_one_account_s_flood_is_cut_to_its_share_and_another_student_is_answered(make_user, make_exam):
    exam = await asyncio.to_thread(make_exam)
    flooder, bystander = await asyncio.to_thread(lambda: (make_user(), make_user()))
    with daphne(**FLOOD_LIMITS) as base:
        result = await run_flood(base, flooder, bystander, exam, per_socket=200)

    # 5 sockets on one attempt; the other 2 handshakes refused with 4429.
    assert result.refused == [4429, 4429]
    # Every message of the flood was answered: the user's budget of saves, the rest refused at once.
    assert sum(result.replies.values()) == 5 * 200, result
    saved = result.replies.get("answer_saved", 0)
    budget = FLOOD_LIMITS["WS_USER_MESSAGE_BURST"] + FLOOD_LIMITS["WS_USER_MESSAGES_PER_SECOND"] * result.seconds + 1
    assert 1 <= saved <= budget, result
    assert result.replies.get("throttled", 0) == 5 * 200 - saved, result
    # The bystander's answers during the flood were each acknowledged (acknowledged_in checks it).
    assert result.calm_during, result


@pytest.mark.timing
async def test_one_account_s_flood_does_not_slow_another_student_s_acknowledgement(make_user, make_exam):
    """10,000 answers from one account's sockets: the other student is answered about as fast as before."""
    exam = await asyncio.to_thread(make_exam)
    flooder, bystander = await asyncio.to_thread(lambda: (make_user(), make_user()))
    with daphne(**FLOOD_LIMITS) as base:
        result = await run_flood(base, flooder, bystander, exam, per_socket=2000)
    assert len(result.calm_during) >= 3, result
    # Here: 20-30 ms before the flood, a median of 40-55 ms and at most 70-120 ms during it (it was
    # 440 ms, 15 times the calm figure, issue 10 §2). The flood itself is answered in about 3 s.
    # Against the same machine's calm figure: on a loaded machine both grow (100-150 ms at load 5).
    calm = statistics.median(result.calm_before)
    assert statistics.median(result.calm_during) < max(0.1, 3 * calm), result
    assert max(result.calm_during) < max(0.3, 6 * calm), result
