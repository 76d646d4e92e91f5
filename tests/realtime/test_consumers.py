"""Consumer logic through `WebsocketCommunicator` on the real ASGI app and the real Redis channel layer.

Data is written with `transaction=True` because the consumers read it from worker threads.
Timer ticks arrive every second in between; helpers skip them where a test waits for
something else.
"""

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from exams import clock, deadlines, services
from exams.contract.limits import MAX_EXTEND_SECONDS
from exams.models import Answer, Attempt, AttemptEvent, EventKind, ExpiryPath
from project.asgi import application
from tests.conftest import token_for
from tests.support.contract_check import check_text, snapshot_rows

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_layer")]

ORIGIN = [(b"origin", b"http://testserver")]
WAIT = 5  # seconds any single expected frame may take


# --- helpers ----------------------------------------------------------------------------

start_attempt = database_sync_to_async(services.start_attempt)
extend_attempt = database_sync_to_async(services.extend_attempt)
expire_attempts = database_sync_to_async(services.expire_attempts)
save_answer = database_sync_to_async(services.save_answer)


async def open_socket(path: str, user) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(application, f"{path}?token={token_for(user)}", headers=ORIGIN)
    connected, _ = await comm.connect(timeout=WAIT)
    assert connected
    return comm


async def close_code(path: str, *, token: str) -> int:
    """Connect and return the close code the server answers with (no other frame first)."""
    comm = WebsocketCommunicator(application, f"{path}?token={token}", headers=ORIGIN)
    connected, code = await comm.connect(timeout=WAIT)
    if connected:
        message = await output(comm, WAIT)
        assert message["type"] == "websocket.close", message
        code = message["code"]
        await comm.disconnect()  # what the browser does after a close frame
    return code


async def output(comm: WebsocketCommunicator, timeout: float) -> dict:
    """The app's next ASGI message; TimeoutError if none (unlike receive_output, the app lives on)."""
    if comm.future.done():
        comm.future.result()
    message = await asyncio.wait_for(comm.output_queue.get(), timeout)
    if message["type"] == "websocket.send":
        check_text(comm.scope["path"], message["text"])  # against its declaration (exams/contract)
    return message


async def next_frame(comm: WebsocketCommunicator, *, skip_ticks: bool = True, timeout: float = WAIT) -> dict:
    """The next JSON frame, skipping `timer` ticks unless asked not to."""
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        assert left > 0, "no frame arrived in time"
        message = await output(comm, left)
        assert message["type"] == "websocket.send", message
        frame = json.loads(message["text"])
        if skip_ticks and frame["type"] == "timer":
            continue
        return frame


async def frame_of(comm: WebsocketCommunicator, kind: str, *, timeout: float = WAIT) -> dict:
    """Skip frames until one of type `kind` arrives."""
    end = time.monotonic() + timeout
    while True:
        frame = await next_frame(comm, skip_ticks=False, timeout=max(0.01, end - time.monotonic()))
        if frame["type"] == kind:
            return frame


async def request(comm: WebsocketCommunicator, message: dict | str) -> dict:
    """Send one message and return the first non-tick frame back."""
    await comm.send_to(text_data=message if isinstance(message, str) else json.dumps(message))
    return await next_frame(comm)


def nothing_queued(comm: WebsocketCommunicator) -> None:
    """Assert the app has handed `comm` nothing that was not read yet."""
    if comm.future.done():
        comm.future.result()
    assert comm.output_queue.empty(), comm.output_queue.get_nowait()


class Witness:
    """Another student's socket, on an ongoing attempt of its own in this process: what reaches
    it proves what did not reach the socket under test, without waiting out a silence."""

    def __init__(self, comm: WebsocketCommunicator, user, attempt_id: int, question_id: int) -> None:
        self.comm, self.user, self.attempt_id, self.question_id = comm, user, attempt_id, question_id
        self.options = itertools.cycle("BA")

    async def fanned_out(self) -> None:
        """Publish an event to the witness and wait for it: every fan-out message published
        before it has been handed to this process's sockets (one channel, first in first out)."""
        answer = await save_answer(
            user=self.user, attempt_id=self.attempt_id, question_id=self.question_id, selected_option=next(self.options)
        )
        pushed = await frame_of(self.comm, "answer_saved")
        assert pushed["saved_at"] == clock.iso(answer.saved_at)

    async def ticked_twice(self) -> None:
        """Wait for the ticks of two passes that began from now on: the first ticked every attempt
        still followed, the second shows the first has finished."""
        since, passes = clock.now(), 0
        while passes < 2:
            tick = await frame_of(self.comm, "timer", timeout=WAIT + 2)
            passes += parse(tick["server_time"]) > since


@pytest.fixture
async def witness(make_user, exam) -> AsyncIterator[Witness]:
    user = await database_sync_to_async(make_user)()
    attempt = (await start_attempt(user=user, exam_id=exam.pk)).attempt
    question_id = await database_sync_to_async(lambda: exam.questions.values_list("pk", flat=True).first())()
    comm = await open_socket(attempt_path(attempt.pk), user)
    await next_frame(comm, skip_ticks=False)  # snapshot
    yield Witness(comm, user, attempt.pk, question_id)
    await comm.disconnect()


async def hears_nothing_more(comm: WebsocketCommunicator, witness: Witness) -> None:
    """`comm`'s attempt has ended and its end frame was read: no later event and no tick reaches it."""
    await witness.fanned_out()
    await witness.ticked_twice()
    nothing_queued(comm)


def attempt_path(attempt_id: int) -> str:
    return f"/ws/attempts/{attempt_id}/"


def proctor_path(exam_id: int) -> str:
    return f"/ws/proctor/exams/{exam_id}/"


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


@pytest.fixture
def question_ids(exam) -> list[int]:
    return list(exam.questions.values_list("pk", flat=True))


# --- student socket: who may connect -----------------------------------------------------


async def test_student_close_codes(student, make_user, exam):
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    other = await database_sync_to_async(make_user)()
    expired = AccessToken.for_user(student)
    expired.set_exp(lifetime=-timedelta(seconds=1))

    assert await close_code(attempt_path(attempt.pk), token="") == 4401
    assert await close_code(attempt_path(attempt.pk), token="not-a-jwt") == 4401
    assert await close_code(attempt_path(attempt.pk), token=str(expired)) == 4401
    assert await close_code(attempt_path(attempt.pk), token=token_for(other)) == 4403
    assert await close_code(attempt_path(attempt.pk + 1000), token=token_for(student)) == 4404


async def test_inactive_user_is_unauthenticated(student, exam):
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    token = token_for(student)
    student.is_active = False
    await database_sync_to_async(student.save)()
    assert await close_code(attempt_path(attempt.pk), token=token) == 4401


async def test_foreign_origin_is_refused(student, exam):
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    comm = WebsocketCommunicator(
        application,
        f"{attempt_path(attempt.pk)}?token={token_for(student)}",
        headers=[(b"origin", b"http://evil.example")],
    )
    connected, _ = await comm.connect(timeout=WAIT)
    assert not connected


# --- student socket: snapshot, ticks, actions ---------------------------------------------


async def test_snapshot_on_connect_then_ticks(student, exam):
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    comm = await open_socket(attempt_path(attempt.pk), student)

    snapshot = await next_frame(comm, skip_ticks=False)
    assert snapshot["type"] == "timer"
    assert snapshot["attempt_id"] == attempt.pk
    assert snapshot["status"] == "ongoing"
    assert snapshot["deadline"] == clock.iso(attempt.deadline_at)
    assert snapshot["remaining_seconds"] == deadlines.remaining_seconds(
        attempt.deadline_at, parse(snapshot["server_time"])
    )
    assert 58 <= snapshot["remaining_seconds"] <= 60

    first = await next_frame(comm, skip_ticks=False)
    second = await next_frame(comm, skip_ticks=False)
    for tick in (first, second):
        assert tick["type"] == "timer"
        assert tick["deadline"] == snapshot["deadline"]
        assert tick["remaining_seconds"] == deadlines.remaining_seconds(attempt.deadline_at, parse(tick["server_time"]))
    assert parse(first["server_time"]) < parse(second["server_time"])
    await comm.disconnect()


@pytest.mark.timing
async def test_ticks_come_on_second_boundaries(student, exam):
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    comm = await open_socket(attempt_path(attempt.pk), student)
    await next_frame(comm, skip_ticks=False)  # snapshot
    first = await next_frame(comm, skip_ticks=False, timeout=2)
    second = await next_frame(comm, skip_ticks=False, timeout=2)
    for tick in (first, second):
        assert parse(tick["server_time"]).microsecond < 250_000, tick["server_time"]
    gap = (parse(second["server_time"]) - parse(first["server_time"])).total_seconds()
    assert 0.8 <= gap <= 1.2
    assert second["remaining_seconds"] == first["remaining_seconds"] - 1
    await comm.disconnect()


async def test_answer_and_submit_echo_request_id(student, exam, question_ids, witness):
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    comm = await open_socket(attempt_path(attempt.pk), student)
    await next_frame(comm, skip_ticks=False)  # snapshot

    reply = await request(
        comm, {"type": "answer", "question_id": question_ids[0], "selected_option": "A", "request_id": "r-1"}
    )
    assert reply["type"] == "answer_saved"
    assert reply["request_id"] == "r-1"
    assert reply["question_id"] == question_ids[0]
    assert reply["selected_option"] == "A"
    assert parse(reply["saved_at"])
    # Replacing an answer, with a numeric request id.
    reply = await request(
        comm, {"type": "answer", "question_id": question_ids[0], "selected_option": "B", "request_id": 7}
    )
    assert (reply["type"], reply["request_id"], reply["selected_option"]) == ("answer_saved", 7, "B")
    await request(comm, {"type": "answer", "question_id": question_ids[1], "selected_option": "A"})
    saved = await database_sync_to_async(
        lambda: dict(Answer.objects.filter(attempt=attempt).values_list("question_id", "selected_option"))
    )()
    assert saved == {question_ids[0]: "B", question_ids[1]: "A"}
    # The socket's own answers are not echoed a second time by the broadcast: an answer saved
    # elsewhere, published after theirs, is the next event.
    answer = await save_answer(user=student, attempt_id=attempt.pk, question_id=question_ids[2], selected_option="B")
    pushed = await next_frame(comm)
    assert (pushed["type"], pushed["question_id"], pushed["saved_at"]) == (
        "answer_saved",
        question_ids[2],
        clock.iso(answer.saved_at),
    )

    reply = await request(comm, {"type": "submit", "request_id": "s"})
    assert reply["type"] == "submitted"
    assert reply["request_id"] == "s"
    assert (reply["status"], reply["score"], reply["max_score"]) == ("completed", 1, 3)
    # Submitting again gives the same result; answering now is a conflict.
    again = await request(comm, {"type": "submit", "request_id": "s2"})
    assert (again["type"], again["score"], again["request_id"]) == ("submitted", 1, "s2")
    error = await request(
        comm, {"type": "answer", "question_id": question_ids[2], "selected_option": "A", "request_id": "late"}
    )
    assert (error["type"], error["code"], error["request_id"]) == ("error", "attempt_completed", "late")
    # Ended: no more ticks to this socket, nor the broadcast of its own submit.
    await hears_nothing_more(comm, witness)
    await comm.disconnect()


BAD_MESSAGES = [
    ("not json", "malformed_json", None),
    ('{"type": "answer",', "malformed_json", None),
    ("[1, 2]", "invalid", None),
    ('"answer"', "invalid", None),
    ("{}", "unknown_type", None),
    ('{"type": "extend", "attempt_id": 1, "seconds": 5, "request_id": "x1"}', "unknown_type", "x1"),
    ('{"type": "dance", "request_id": 3}', "unknown_type", 3),
    ('{"type": "answer", "request_id": "m"}', "invalid", "m"),
    ('{"type": "answer", "question_id": "1", "selected_option": "A", "request_id": "s"}', "invalid", "s"),
    ('{"type": "answer", "question_id": true, "selected_option": "A"}', "invalid", None),
    ('{"type": "answer", "question_id": -4, "selected_option": "A"}', "invalid", None),
    ('{"type": "answer", "question_id": 1.5, "selected_option": "A"}', "invalid", None),
    ('{"type": "answer", "question_id": 1, "selected_option": 1}', "invalid", None),
    ('{"type": "answer", "question_id": 1, "selected_option": ""}', "invalid", None),
    ('{"type": "answer", "question_id": 1, "selected_option": "ABCDEFGHI"}', "invalid", None),
    ('{"type": "submit", "request_id": {"nested": 1}}', "invalid", None),
    ('{"type": "submit", "request_id": "' + "r" * 65 + '"}', "invalid", None),
]


async def test_bad_messages_get_errors_and_the_socket_stays_open(student, exam, question_ids, settings):
    # Not about throttling: a bucket large enough for every message here.
    settings.EXAM = {**settings.EXAM, "WS_MESSAGE_BURST": 10 * len(BAD_MESSAGES)}
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    comm = await open_socket(attempt_path(attempt.pk), student)
    await next_frame(comm, skip_ticks=False)

    for text, code, request_id in BAD_MESSAGES:
        reply = await request(comm, text)
        assert reply["type"] == "error", text
        assert reply["code"] == code, (text, reply)
        assert reply["message"]
        assert reply.get("request_id") == request_id, (text, reply)

    await comm.send_to(bytes_data=b"\x00\x01binary")
    assert (await next_frame(comm))["code"] == "unsupported_media_type"
    too_large = json.dumps(
        {
            "type": "answer",
            "question_id": question_ids[0],
            "selected_option": "A",
            "pad": "x" * settings.EXAM["WS_MAX_MESSAGE_BYTES"],
        }
    )
    assert (await request(comm, too_large))["code"] == "message_too_large"
    # Well-formed messages that the service refuses.
    reply = await request(
        comm, {"type": "answer", "question_id": question_ids[0] + 10_000, "selected_option": "A", "request_id": "q"}
    )
    assert (reply["code"], reply["request_id"]) == ("invalid_question", "q")
    reply = await request(comm, {"type": "answer", "question_id": question_ids[0], "selected_option": "Z"})
    assert reply["code"] == "invalid_option"
    assert await database_sync_to_async(Answer.objects.filter(attempt=attempt).count)() == 0

    # Still open and working: a valid answer is saved.
    reply = await request(
        comm, {"type": "answer", "question_id": question_ids[0], "selected_option": "A", "request_id": "ok"}
    )
    assert (reply["type"], reply["request_id"]) == ("answer_saved", "ok")
    assert await database_sync_to_async(Answer.objects.filter(attempt=attempt).count)() == 1
    await comm.disconnect()


async def test_deeply_nested_json_is_an_error_and_the_socket_keeps_working(student, exam, question_ids):
    """Issue 8 §2: a 4 KB frame of nested brackets raised RecursionError and closed the socket with 1011."""
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    comm = await open_socket(attempt_path(attempt.pk), student)
    await next_frame(comm, skip_ticks=False)

    nested_field = '{"type": "answer", "question_id": ' + "[" * 1990 + "]" * 1990 + ', "selected_option": "A"}'
    for text in ("[" * 2000 + "]" * 2000, nested_field):
        assert len(text.encode()) <= settings.EXAM["WS_MAX_MESSAGE_BYTES"]  # not refused for its size
        reply = await request(comm, text)
        assert (reply["type"], reply["code"]) == ("error", "invalid"), reply

    reply = await request(
        comm, {"type": "answer", "question_id": question_ids[0], "selected_option": "A", "request_id": "after"}
    )
    assert (reply["type"], reply["request_id"]) == ("answer_saved", "after")
    await comm.disconnect()


async def test_floods_are_throttled_then_recover(student, exam, question_ids):
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    comm = await open_socket(attempt_path(attempt.pk), student)
    await next_frame(comm, skip_ticks=False)
    burst, rate = settings.EXAM["WS_MESSAGE_BURST"], settings.EXAM["WS_MESSAGES_PER_SECOND"]

    flood = 3 * burst
    started = time.monotonic()
    for i in range(flood):
        await comm.send_to(text_data=json.dumps({"type": "ping", "request_id": i}))
    replies = [await next_frame(comm) for _ in range(flood)]
    elapsed = time.monotonic() - started
    codes = [r["code"] for r in replies]
    served = codes.count("unknown_type")
    assert codes.count("throttled") + served == flood
    # The burst and whatever refilled while the flood was being handled; the rest refused.
    assert burst <= served <= burst + rate * elapsed + 1, (served, elapsed)
    assert codes.count("throttled") >= flood - served > 0
    assert codes[:burst] == ["unknown_type"] * burst
    # Refused or served, each reply says which message it answers.
    assert [r["request_id"] for r in replies] == list(range(flood))

    await asyncio.sleep(2 / rate)  # the bucket refills with time: that it does is what is tested
    reply = await request(
        comm, {"type": "answer", "question_id": question_ids[0], "selected_option": "A", "request_id": "after"}
    )
    assert (reply["type"], reply["request_id"]) == ("answer_saved", "after")
    await comm.disconnect()


async def test_pushes_from_elsewhere_reach_the_student(student, proctor, exam, question_ids, witness):
    """`answer_saved` (REST or another socket), `extended` and `timeout` caused outside this socket."""
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    comm = await open_socket(attempt_path(attempt.pk), student)
    await next_frame(comm, skip_ticks=False)

    answer = await save_answer(user=student, attempt_id=attempt.pk, question_id=question_ids[1], selected_option="B")
    pushed = await next_frame(comm)
    assert pushed["type"] == "answer_saved"
    assert (pushed["question_id"], pushed["selected_option"], pushed["saved_at"]) == (
        question_ids[1],
        "B",
        clock.iso(answer.saved_at),
    )

    extended = await extend_attempt(attempt_id=attempt.pk, seconds=120, by=proctor)
    pushed = await next_frame(comm)
    assert pushed["type"] == "extended"
    assert pushed["added_seconds"] == 120
    assert pushed["deadline"] == clock.iso(extended.deadline_at)
    assert 170 <= pushed["remaining_seconds"] <= 180
    # The ticker counts down from the new deadline.
    tick = await frame_of(comm, "timer", timeout=2)
    assert tick["deadline"] == clock.iso(extended.deadline_at)
    assert tick["remaining_seconds"] == deadlines.remaining_seconds(extended.deadline_at, parse(tick["server_time"]))

    # Time runs out (the deadline is moved into the past rather than waited for).
    await database_sync_to_async(Attempt.objects.filter(pk=attempt.pk).update)(
        deadline_at=clock.now() - timedelta(milliseconds=10)
    )
    assert [a.pk for a in await expire_attempts(attempt_ids=[attempt.pk], path=ExpiryPath.SWEEPER)] == [attempt.pk]
    pushed = await next_frame(comm)
    assert pushed["type"] == "timeout"
    assert (pushed["attempt_id"], pushed["status"], pushed["score"], pushed["max_score"]) == (
        attempt.pk,
        "timeout",
        0,
        3,
    )
    # No more ticks once it ended, and the socket stays open for a polite close.
    await hears_nothing_more(comm, witness)
    reply = await request(comm, {"type": "answer", "question_id": question_ids[0], "selected_option": "A"})
    assert (reply["type"], reply["code"]) == ("error", "time_up")
    await comm.disconnect()


async def time_out_on_access(student, make_exam, settings) -> tuple[dict, Attempt]:
    """No listener runs here: the socket's ticker times the attempt out once past the slack (none here).
    Returns the `timeout` frame and the attempt."""
    settings.EXAM = {**settings.EXAM, "ON_ACCESS_SLACK_SECONDS": 0.0}
    exam = await database_sync_to_async(make_exam)(duration=1)
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    comm = await open_socket(attempt_path(attempt.pk), student)
    await next_frame(comm, skip_ticks=False)
    pushed = await frame_of(comm, "timeout", timeout=WAIT + 1)
    await comm.disconnect()
    return pushed, attempt


async def test_on_access_expiry_without_listener(student, make_exam, settings):
    pushed, attempt = await time_out_on_access(student, make_exam, settings)
    assert (pushed["attempt_id"], pushed["status"]) == (attempt.pk, "timeout")
    event = await database_sync_to_async(AttemptEvent.objects.get)(attempt=attempt, kind=EventKind.TIMED_OUT)
    assert event.path == ExpiryPath.ON_ACCESS


@pytest.mark.timing
async def test_on_access_expiry_comes_soon_after_the_deadline(student, make_exam, settings):
    pushed, attempt = await time_out_on_access(student, make_exam, settings)
    assert parse(pushed["server_time"]) - attempt.deadline_at < timedelta(seconds=2.5)


async def test_connecting_to_an_ended_attempt_gets_its_result(student, exam, question_ids, witness):
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    await save_answer(user=student, attempt_id=attempt.pk, question_id=question_ids[0], selected_option="A")
    await database_sync_to_async(services.submit_attempt)(user=student, attempt_id=attempt.pk)

    comm = await open_socket(attempt_path(attempt.pk), student)
    timer = await next_frame(comm, skip_ticks=False)
    assert (timer["type"], timer["status"], timer["remaining_seconds"]) == ("timer", "completed", 0)
    ended = await next_frame(comm, skip_ticks=False)
    assert (ended["type"], ended["score"], ended["max_score"]) == ("submitted", 1, 3)
    await hears_nothing_more(comm, witness)
    await comm.disconnect()


async def test_past_deadline_on_connect_times_out_at_once(student, make_exam):
    exam = await database_sync_to_async(make_exam)(duration=60)
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    await database_sync_to_async(Attempt.objects.filter(pk=attempt.pk).update)(
        deadline_at=clock.now() - timedelta(seconds=1)
    )
    comm = await open_socket(attempt_path(attempt.pk), student)
    timer = await next_frame(comm, skip_ticks=False)
    assert (timer["status"], timer["remaining_seconds"]) == ("timeout", 0)
    assert (await next_frame(comm, skip_ticks=False))["type"] == "timeout"
    await comm.disconnect()


async def reconnect_after_an_extension(student, proctor, exam) -> tuple[dict, Attempt, float]:
    """Connect, disconnect, get 30 s more, reconnect: the first frame, the attempt, and how long it took."""
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    comm = await open_socket(attempt_path(attempt.pk), student)
    await next_frame(comm, skip_ticks=False)
    await comm.disconnect()

    extended = await extend_attempt(attempt_id=attempt.pk, seconds=30, by=proctor)
    started = time.monotonic()
    comm = await open_socket(attempt_path(attempt.pk), student)
    snapshot = await next_frame(comm, skip_ticks=False)
    took = time.monotonic() - started
    await comm.disconnect()
    return snapshot, extended, took


async def test_reconnect_gets_current_state(student, proctor, exam):
    snapshot, extended, _ = await reconnect_after_an_extension(student, proctor, exam)
    assert snapshot["type"] == "timer"
    assert snapshot["deadline"] == clock.iso(extended.deadline_at)
    assert 85 <= snapshot["remaining_seconds"] <= 90


@pytest.mark.timing
async def test_reconnect_gets_current_state_at_once(student, proctor, exam):
    _, _, took = await reconnect_after_an_extension(student, proctor, exam)
    assert took < 1


# --- proctor socket ------------------------------------------------------------------------


async def test_proctor_close_codes(student, proctor, exam):
    assert await close_code(proctor_path(exam.pk), token="") == 4401
    assert await close_code(proctor_path(exam.pk), token=token_for(student)) == 4403
    assert await close_code(proctor_path(exam.pk + 1000), token=token_for(proctor)) == 4404


async def test_proctor_snapshot(student, make_user, proctor, exam, question_ids):
    other = await database_sync_to_async(make_user)()
    first = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    second = (await start_attempt(user=other, exam_id=exam.pk)).attempt
    await save_answer(user=student, attempt_id=first.pk, question_id=question_ids[0], selected_option="A")
    student_socket = await open_socket(attempt_path(first.pk), student)
    await next_frame(student_socket, skip_ticks=False)
    # Presence is reported in batches: the snapshot shows it once the `connected` event is logged.
    connected = database_sync_to_async(
        lambda: AttemptEvent.objects.filter(attempt_id=first.pk, kind=EventKind.CONNECTED).exists()
    )
    end = time.monotonic() + WAIT
    while not await connected() and time.monotonic() < end:
        await asyncio.sleep(0.05)

    comm = await open_socket(proctor_path(exam.pk), proctor)
    snapshot = await next_frame(comm)
    assert snapshot["type"] == "snapshot"
    assert snapshot["exam_id"] == exam.pk
    rows = {row["attempt_id"]: row for row in snapshot_rows(snapshot)}
    assert set(rows) == {first.pk, second.pk}
    row = rows[first.pk]
    for field in (
        "attempt_id",
        "student",
        "status",
        "remaining_seconds",
        "deadline",
        "answered",
        "total_questions",
        "connected",
    ):
        assert field in row
    assert (row["student"], row["status"], row["answered"], row["total_questions"], row["connected"]) == (
        student.username,
        "ongoing",
        1,
        3,
        True,
    )
    assert row["deadline"] == clock.iso(first.deadline_at)
    assert (rows[second.pk]["student"], rows[second.pk]["answered"], rows[second.pk]["connected"]) == (
        other.username,
        0,
        False,
    )
    await student_socket.disconnect()
    await comm.disconnect()


async def test_proctor_sees_live_events(student, proctor, exam, question_ids):
    comm = await open_socket(proctor_path(exam.pk), proctor)
    assert (await next_frame(comm))["rows"] == []

    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    event = await next_frame(comm)
    assert event["type"] == "attempt_started"
    assert (event["attempt"]["attempt_id"], event["attempt"]["student"], event["attempt"]["status"]) == (
        attempt.pk,
        student.username,
        "ongoing",
    )

    student_socket = await open_socket(attempt_path(attempt.pk), student)
    event = await next_frame(comm)
    assert (event["type"], event["attempt"]["attempt_id"], event["attempt"]["connected"]) == (
        "student_connected",
        attempt.pk,
        True,
    )

    await request(student_socket, {"type": "answer", "question_id": question_ids[0], "selected_option": "A"})
    event = await next_frame(comm)
    assert (event["type"], event["attempt"]["answered"]) == ("answer_saved", 1)

    await extend_attempt(attempt_id=attempt.pk, seconds=15, by=proctor)
    event = await next_frame(comm)
    assert (event["type"], event["attempt"]["extra_seconds"]) == ("attempt_extended", 15)

    await student_socket.send_to(text_data=json.dumps({"type": "submit"}))
    event = await next_frame(comm)
    assert (event["type"], event["attempt"]["status"], event["attempt"]["score"]) == (
        "attempt_submitted",
        "completed",
        1,
    )

    await student_socket.disconnect()
    event = await next_frame(comm)
    assert (event["type"], event["attempt"]["attempt_id"], event["attempt"]["connected"]) == (
        "student_disconnected",
        attempt.pk,
        False,
    )
    await comm.disconnect()


async def test_proctor_sees_timeouts(student, proctor, exam):
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    comm = await open_socket(proctor_path(exam.pk), proctor)
    await next_frame(comm)
    await database_sync_to_async(Attempt.objects.filter(pk=attempt.pk).update)(
        deadline_at=clock.now() - timedelta(milliseconds=10)
    )
    await expire_attempts(attempt_ids=[attempt.pk], path=ExpiryPath.RECONCILER)
    event = await next_frame(comm)
    assert (event["type"], event["attempt"]["attempt_id"], event["attempt"]["status"]) == (
        "attempt_timeout",
        attempt.pk,
        "timeout",
    )
    await comm.disconnect()


async def test_presence_counts_sockets_not_connections(student, proctor, make_user, exam, question_ids):
    """Two tabs: connected on the first, disconnected only when the last one closes."""
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    comm = await open_socket(proctor_path(exam.pk), proctor)
    await next_frame(comm)

    tab1 = await open_socket(attempt_path(attempt.pk), student)
    assert (await next_frame(comm))["type"] == "student_connected"
    tab2 = await open_socket(attempt_path(attempt.pk), student)
    await next_frame(tab2, skip_ticks=False)
    await tab1.disconnect()
    # Another student connecting makes the hub report presence: tab1's close is in that batch
    # or an earlier one. An answer on tab2, published after, must be the next event, with
    # the attempt still connected (a wrong `student_disconnected` would come first).
    other = await database_sync_to_async(make_user)()
    elsewhere = (await start_attempt(user=other, exam_id=exam.pk)).attempt
    assert (await next_frame(comm))["type"] == "attempt_started"
    witness = await open_socket(attempt_path(elsewhere.pk), other)
    event = await next_frame(comm)
    assert (event["type"], event["attempt"]["attempt_id"]) == ("student_connected", elsewhere.pk)
    await request(tab2, {"type": "answer", "question_id": question_ids[0], "selected_option": "A"})
    event = await next_frame(comm)
    assert (event["type"], event["attempt"]["attempt_id"], event["attempt"]["connected"]) == (
        "answer_saved",
        attempt.pk,
        True,
    )
    await tab2.disconnect()
    event = await next_frame(comm)
    assert (event["type"], event["attempt"]["attempt_id"], event["attempt"]["connected"]) == (
        "student_disconnected",
        attempt.pk,
        False,
    )
    await witness.disconnect()

    kinds = await database_sync_to_async(
        lambda: list(
            AttemptEvent.objects.filter(
                attempt=attempt, kind__in=[EventKind.CONNECTED, EventKind.DISCONNECTED]
            ).values_list("kind", flat=True)
        )
    )()
    assert kinds == [EventKind.CONNECTED, EventKind.DISCONNECTED]
    await comm.disconnect()


async def proctor_and_student(student, proctor, exam) -> tuple[WebsocketCommunicator, WebsocketCommunicator, Attempt]:
    """A proctor's socket and a student's on an ongoing attempt, each past its first frames."""
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    comm = await open_socket(proctor_path(exam.pk), proctor)
    await next_frame(comm)  # snapshot
    student_socket = await open_socket(attempt_path(attempt.pk), student)
    await next_frame(student_socket, skip_ticks=False)
    assert (await next_frame(comm))["type"] == "student_connected"
    return comm, student_socket, attempt


async def test_proctor_extend_reaches_the_student(student, proctor, exam):
    comm, student_socket, attempt = await proctor_and_student(student, proctor, exam)
    await comm.send_to(
        text_data=json.dumps({"type": "extend", "attempt_id": attempt.pk, "seconds": 45, "request_id": "e1"})
    )
    pushed = await next_frame(student_socket)
    assert (pushed["type"], pushed["added_seconds"]) == ("extended", 45)
    new_deadline = attempt.deadline_at + timedelta(seconds=45)
    assert pushed["deadline"] == clock.iso(new_deadline)

    frames = [await next_frame(comm) for _ in range(2)]
    by_type = {f["type"]: f for f in frames}
    ack = by_type["ack"]
    assert (ack["action"], ack["request_id"], ack["attempt_id"], ack["added_seconds"]) == (
        "extend",
        "e1",
        attempt.pk,
        45,
    )
    assert ack["deadline"] == clock.iso(new_deadline)
    assert by_type["attempt_extended"]["attempt"]["deadline"] == clock.iso(new_deadline)
    stored = await database_sync_to_async(Attempt.objects.get)(pk=attempt.pk)
    assert (stored.deadline_at, stored.extra_seconds) == (new_deadline, 45)
    await student_socket.disconnect()
    await comm.disconnect()


@pytest.mark.timing
async def test_proctor_extend_reaches_the_student_within_a_second(student, proctor, exam):
    comm, student_socket, attempt = await proctor_and_student(student, proctor, exam)
    started = time.monotonic()
    await comm.send_to(text_data=json.dumps({"type": "extend", "attempt_id": attempt.pk, "seconds": 45}))
    assert (await next_frame(student_socket))["type"] == "extended"
    assert time.monotonic() - started < 1
    await student_socket.disconnect()
    await comm.disconnect()


async def test_proctor_force_submit(student, proctor, exam, question_ids):
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    await save_answer(user=student, attempt_id=attempt.pk, question_id=question_ids[0], selected_option="A")
    comm = await open_socket(proctor_path(exam.pk), proctor)
    await next_frame(comm)
    student_socket = await open_socket(attempt_path(attempt.pk), student)
    await next_frame(student_socket, skip_ticks=False)
    assert (await next_frame(comm))["type"] == "student_connected"

    await comm.send_to(text_data=json.dumps({"type": "force_submit", "attempt_id": attempt.pk, "request_id": 9}))
    pushed = await next_frame(student_socket)
    assert (pushed["type"], pushed["status"], pushed["score"], pushed["max_score"]) == ("submitted", "completed", 1, 3)
    frames = {f["type"]: f for f in [await next_frame(comm) for _ in range(2)]}
    assert (frames["ack"]["action"], frames["ack"]["request_id"], frames["ack"]["status"], frames["ack"]["score"]) == (
        "force_submit",
        9,
        "completed",
        1,
    )
    assert frames["attempt_submitted"]["attempt"]["status"] == "completed"
    kinds = await database_sync_to_async(
        lambda: list(AttemptEvent.objects.filter(attempt=attempt).values_list("kind", flat=True))
    )()
    assert EventKind.FORCE_SUBMITTED in kinds

    # Extending an ended attempt is a conflict; the socket stays open.
    reply = await request(comm, {"type": "extend", "attempt_id": attempt.pk, "seconds": 5, "request_id": "late"})
    assert (reply["type"], reply["code"], reply["request_id"]) == ("error", "attempt_ended", "late")
    await student_socket.disconnect()
    await comm.disconnect()


async def test_proctor_bad_requests(student, proctor, make_exam, exam):
    other_exam = await database_sync_to_async(make_exam)()
    elsewhere = (await start_attempt(user=student, exam_id=other_exam.pk)).attempt
    mine = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    comm = await open_socket(proctor_path(exam.pk), proctor)
    await next_frame(comm)

    cases = [
        ({"type": "extend", "attempt_id": elsewhere.pk, "seconds": 10, "request_id": "x"}, "attempt_not_in_exam"),
        ({"type": "force_submit", "attempt_id": elsewhere.pk}, "attempt_not_in_exam"),
        ({"type": "extend", "attempt_id": elsewhere.pk + 1000, "seconds": 10}, "not_found"),
        ({"type": "extend", "attempt_id": elsewhere.pk, "seconds": 0}, "invalid"),
        ({"type": "extend", "attempt_id": elsewhere.pk, "seconds": "10"}, "invalid"),
        ({"type": "extend", "attempt_id": mine.pk, "seconds": MAX_EXTEND_SECONDS + 1}, "invalid"),
        ({"type": "answer", "question_id": 1, "selected_option": "A"}, "unknown_type"),
        ({"type": "submit"}, "unknown_type"),
    ]
    for message, code in cases:
        reply = await request(comm, message)
        assert (reply["type"], reply["code"]) == ("error", code), (message, reply)
        if "request_id" in message:
            assert reply["request_id"] == message["request_id"]
    for attempt in (elsewhere, mine):
        stored = await database_sync_to_async(Attempt.objects.get)(pk=attempt.pk)
        assert (stored.status, stored.extra_seconds) == ("ongoing", 0)
    assert (await request(comm, "{oops"))["code"] == "malformed_json"
    # Still open: a valid extend in this exam works.
    reply = await request(comm, {"type": "extend", "attempt_id": mine.pk, "seconds": 10})
    assert (reply["type"], reply["added_seconds"]) == ("ack", 10)
    await comm.disconnect()


async def test_proctor_only_hears_their_exam(student, proctor, make_exam, exam):
    other_exam = await database_sync_to_async(make_exam)()
    comm = await open_socket(proctor_path(exam.pk), proctor)
    await next_frame(comm)
    await start_attempt(user=student, exam_id=other_exam.pk)
    # A start in this exam, published after that one, is the next event.
    mine = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    event = await next_frame(comm)
    assert (event["type"], event["attempt"]["attempt_id"]) == ("attempt_started", mine.pk)
    await comm.disconnect()


async def test_an_answer_cleared_over_the_socket(student, exam, question_ids):
    # issue 12, "clear my choice": `selected_option: null` clears, under the same deadline rule.
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    comm = await open_socket(attempt_path(attempt.pk), student)
    await next_frame(comm, skip_ticks=False)
    await request(comm, {"type": "answer", "question_id": question_ids[0], "selected_option": "A"})
    reply = await request(
        comm, {"type": "answer", "question_id": question_ids[0], "selected_option": None, "request_id": "c"}
    )
    assert (reply["type"], reply["selected_option"], reply["request_id"]) == ("answer_saved", None, "c")
    stored = await database_sync_to_async(lambda: Answer.objects.get(attempt=attempt).selected_option)()
    assert stored == ""
    await comm.disconnect()
