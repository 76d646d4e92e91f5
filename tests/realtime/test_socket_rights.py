"""Issue 10 §1 and §2 on the consumers (WebsocketCommunicator, real Redis and database): rights
checked on every action, a socket bounded by its token unless renewed in-band (`auth`), and
per-user limits on sockets, messages and actions under way."""

import asyncio
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.db import connections, transaction
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from exams import clock
from exams.models import Answer, Attempt
from project.asgi import application
from realtime.hub import get_hub
from tests.conftest import token_for

from .test_consumers import (
    ORIGIN,
    WAIT,
    attempt_path,
    close_code,
    frame_of,
    next_frame,
    open_socket,
    output,
    parse,
    proctor_path,
    request,
    start_attempt,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_layer")]

update_user = database_sync_to_async(lambda pk, **fields: get_user_model().objects.filter(pk=pk).update(**fields))
answers_of = database_sync_to_async(
    lambda attempt_id: dict(Answer.objects.filter(attempt_id=attempt_id).values_list("question_id", "selected_option"))
)
attempt_row = database_sync_to_async(lambda pk: Attempt.objects.get(pk=pk))


@pytest.fixture
def question_ids(exam) -> list[int]:
    return list(exam.questions.values_list("pk", flat=True))


@pytest.fixture
def every_action_reads_rights(settings) -> None:
    """No action runs on a cached read, and the hub's periodic refresh is far off: only the
    action's own check can catch a change."""
    settings.EXAM = {**settings.EXAM, "WS_RIGHTS_MAX_AGE_SECONDS": 0, "WS_RIGHTS_REFRESH_SECONDS": 3600}


async def closed_with(comm: WebsocketCommunicator, *, timeout: float = WAIT) -> int:
    """Frames until the server closes the socket; its close code."""
    end = time.monotonic() + timeout
    while True:
        message = await output(comm, max(0.01, end - time.monotonic()))
        if message["type"] == "websocket.close":
            return message["code"]


async def open_with_token(path: str, token: str) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(application, f"{path}?token={token}", headers=ORIGIN)
    connected, _ = await comm.connect(timeout=WAIT)
    assert connected
    return comm


async def reply_to(comm: WebsocketCommunicator, message: dict) -> dict:
    """Send a message and return the reply that echoes its request_id (other tabs' pushes skipped)."""
    await comm.send_to(text_data=json.dumps(message))
    while True:
        frame = await next_frame(comm)
        if frame.get("request_id") == message["request_id"]:
            return frame


def answer(question_id: int, option: str = "A", request_id: object = None) -> dict:
    message = {"type": "answer", "question_id": question_id, "selected_option": option}
    if request_id is not None:
        message["request_id"] = request_id
    return message


# --- rights on every action ---------------------------------------------------------------------


@pytest.mark.usefixtures("every_action_reads_rights")
async def test_a_deactivated_student_s_open_socket_saves_no_more_answers(student, exam, question_ids):
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    comm = await open_socket(attempt_path(attempt.pk), student)
    await next_frame(comm, skip_ticks=False)
    assert (await request(comm, answer(question_ids[0])))["type"] == "answer_saved"

    await update_user(student.pk, is_active=False)
    await comm.send_to(text_data=json.dumps(answer(question_ids[1])))
    assert await closed_with(comm) == 4401
    assert await answers_of(attempt.pk) == {question_ids[0]: "A"}


@pytest.mark.usefixtures("every_action_reads_rights")
@pytest.mark.parametrize("change, code", [({"is_staff": False}, 4403), ({"is_active": False}, 4401)])
async def test_a_demoted_or_deactivated_proctor_can_neither_extend_nor_force_submit(
    student, proctor, exam, change, code
):
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    for message in (
        {"type": "extend", "attempt_id": attempt.pk, "seconds": 60},
        {"type": "force_submit", "attempt_id": attempt.pk},
    ):
        await update_user(proctor.pk, is_staff=True, is_active=True)
        comm = await open_socket(proctor_path(exam.pk), proctor)
        assert (await next_frame(comm))["type"] == "snapshot"
        await update_user(proctor.pk, **change)
        await comm.send_to(text_data=json.dumps(message))
        assert await closed_with(comm) == code, message
        await comm.disconnect()
    stored = await attempt_row(attempt.pk)
    assert (stored.status, stored.deadline_at, stored.extra_seconds) == ("ongoing", attempt.deadline_at, 0)


async def test_rights_read_within_the_bound_are_not_read_again(student, exam, question_ids, settings):
    """Cheap: while the hub's refresh keeps them fresh, actions cost no rights query."""
    settings.EXAM = {**settings.EXAM, "WS_RIGHTS_MAX_AGE_SECONDS": 3600, "WS_RIGHTS_REFRESH_SECONDS": 3600}
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    comm = await open_socket(attempt_path(attempt.pk), student)
    await next_frame(comm, skip_ticks=False)
    read = get_hub().rights.known(student.pk)
    assert read is not None and read.active, "the connect's own read is kept"
    for i, question_id in enumerate(question_ids):
        assert (await request(comm, answer(question_id, request_id=i)))["type"] == "answer_saved"
    assert get_hub().rights.known(student.pk) is read
    await comm.disconnect()


# --- the hub closes the sockets of users who lost their rights -------------------------------------


async def test_the_hub_closes_the_sockets_of_users_who_lost_their_rights(student, proctor, make_user, exam, settings):
    settings.EXAM = {**settings.EXAM, "WS_RIGHTS_REFRESH_SECONDS": 0.2}
    other_proctor = await database_sync_to_async(make_user)(staff=True)
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    learner = await open_socket(attempt_path(attempt.pk), student)
    await next_frame(learner, skip_ticks=False)
    demoted = await open_socket(proctor_path(exam.pk), proctor)
    await frame_of(demoted, "snapshot")
    deactivated = await open_socket(proctor_path(exam.pk), other_proctor)
    await frame_of(deactivated, "snapshot")
    # A staff user on a student socket needs no staff rights there.
    await update_user(student.pk, is_staff=True)

    await update_user(proctor.pk, is_staff=False)
    await update_user(other_proctor.pk, is_active=False)
    assert await closed_with(demoted) == 4403
    assert await closed_with(deactivated) == 4401
    # The student, untouched, is still served...
    await update_user(student.pk, is_staff=False)
    tick = await frame_of(learner, "timer")
    assert tick["status"] == "ongoing"
    # ...until deactivated too.
    await update_user(student.pk, is_active=False)
    assert await closed_with(learner) == 4401
    assert student.pk not in get_hub().limits.users()


# --- a socket lives as long as its token --------------------------------------------------------


def short_token(user, seconds: float) -> AccessToken:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=seconds))
    return token


async def test_past_its_token_s_expiry_a_socket_is_closed_with_4401(student, exam, settings):
    settings.EXAM = {**settings.EXAM, "WS_RIGHTS_REFRESH_SECONDS": 0.2}
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    token = short_token(student, 2)
    comm = await open_with_token(attempt_path(attempt.pk), str(token))
    assert (await next_frame(comm, skip_ticks=False))["type"] == "timer"
    assert await closed_with(comm, timeout=WAIT + 2) == 4401
    assert time.time() >= token["exp"]


async def test_an_action_past_the_token_s_expiry_closes_the_socket_instead(student, exam, question_ids, settings):
    settings.EXAM = {**settings.EXAM, "WS_RIGHTS_REFRESH_SECONDS": 3600}
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    token = short_token(student, 1)
    comm = await open_with_token(attempt_path(attempt.pk), str(token))
    await next_frame(comm, skip_ticks=False)
    while time.time() < token["exp"]:
        await frame_of(comm, "timer")  # a tick a second: the token runs out meanwhile
    await comm.send_to(text_data=json.dumps(answer(question_ids[0])))
    assert await closed_with(comm) == 4401
    assert await answers_of(attempt.pk) == {}


async def test_a_fresh_token_sent_in_band_keeps_the_socket_open(student, exam, question_ids, settings):
    settings.EXAM = {**settings.EXAM, "WS_RIGHTS_REFRESH_SECONDS": 0.2}
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    old = short_token(student, 2)
    comm = await open_with_token(attempt_path(attempt.pk), str(old))
    await next_frame(comm, skip_ticks=False)

    fresh = AccessToken.for_user(student)
    reply = await request(comm, {"type": "auth", "token": str(fresh), "request_id": "a1"})
    assert reply == {
        "type": "auth_ok",
        "expires_at": clock.iso(datetime.fromtimestamp(fresh["exp"], UTC)),
        "request_id": "a1",
    }
    # Ticks well past the old token's expiry and the hub's checks after it: the socket is open.
    while True:
        tick = await frame_of(comm, "timer")
        if parse(tick["server_time"]).timestamp() > old["exp"] + 1:
            break
    reply = await request(comm, answer(question_ids[0], request_id="late"))
    assert (reply["type"], reply["request_id"]) == ("answer_saved", "late")
    await comm.disconnect()


async def test_an_auth_message_with_a_bad_token_is_refused_and_changes_nothing(student, make_user, exam):
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    other = await database_sync_to_async(make_user)()
    expired = short_token(student, -1)
    comm = await open_socket(attempt_path(attempt.pk), student)
    await next_frame(comm, skip_ticks=False)
    refresh = RefreshToken.for_user(student)  # not an access token
    for i, token in enumerate(["garbage", str(expired), token_for(other), str(refresh)]):
        reply = await request(comm, {"type": "auth", "token": token, "request_id": i})
        assert (reply["type"], reply["code"], reply["request_id"]) == ("error", "token_not_valid", i), reply
    reply = await request(comm, {"type": "auth", "request_id": "missing"})
    assert (reply["type"], reply["code"]) == ("error", "invalid")
    # Still open and served.
    assert (await frame_of(comm, "timer"))["status"] == "ongoing"
    await comm.disconnect()


async def test_the_proctor_socket_takes_auth_too(proctor, exam):
    comm = await open_with_token(proctor_path(exam.pk), str(short_token(proctor, 60)))
    await frame_of(comm, "snapshot")
    fresh = AccessToken.for_user(proctor)
    reply = await request(comm, {"type": "auth", "token": str(fresh)})
    assert (reply["type"], reply["expires_at"]) == ("auth_ok", clock.iso(datetime.fromtimestamp(fresh["exp"], UTC)))
    await comm.disconnect()


# --- per-user limits ----------------------------------------------------------------------------


async def test_sockets_per_attempt_and_per_user_are_capped_with_4429(student, make_exam, settings):
    settings.EXAM = {**settings.EXAM, "WS_MAX_SOCKETS_PER_USER": 3, "WS_MAX_SOCKETS_PER_ATTEMPT": 2}
    first = (await start_attempt(user=student, exam_id=(await database_sync_to_async(make_exam)()).pk)).attempt
    second = (await start_attempt(user=student, exam_id=(await database_sync_to_async(make_exam)()).pk)).attempt
    opened = [await open_socket(attempt_path(first.pk), student) for _ in range(2)]
    assert await close_code(attempt_path(first.pk), token=token_for(student)) == 4429
    opened.append(await open_socket(attempt_path(second.pk), student))
    assert await close_code(attempt_path(second.pk), token=token_for(student)) == 4429, "3 in all"
    # One closes: there is room again.
    await opened.pop(0).disconnect()
    opened.append(await open_socket(attempt_path(first.pk), student))
    assert (await next_frame(opened[-1], skip_ticks=False))["type"] == "timer"
    for comm in opened:
        await comm.disconnect()


async def test_a_proctor_s_sockets_are_capped_per_exam(proctor, exam, settings):
    settings.EXAM = {**settings.EXAM, "WS_MAX_SOCKETS_PER_ATTEMPT": 1}
    comm = await open_socket(proctor_path(exam.pk), proctor)
    await frame_of(comm, "snapshot")
    assert await close_code(proctor_path(exam.pk), token=token_for(proctor)) == 4429
    await comm.disconnect()


async def test_one_message_budget_for_all_of_a_user_s_sockets(student, make_user, exam, question_ids, settings):
    settings.EXAM = {**settings.EXAM, "WS_USER_MESSAGE_BURST": 5, "WS_USER_MESSAGES_PER_SECOND": 0.001}
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    sockets = [await open_socket(attempt_path(attempt.pk), student) for _ in range(3)]
    for comm in sockets:
        await next_frame(comm, skip_ticks=False)
    replies = []
    for round_ in range(3):
        for n, comm in enumerate(sockets):
            replies.append(await reply_to(comm, answer(question_ids[0], "AB"[round_ % 2], request_id=f"{n}.{round_}")))
    assert [r["type"] for r in replies] == ["answer_saved"] * 5 + ["error"] * 4
    assert {r["code"] for r in replies[5:]} == {"throttled"}
    # Another student's budget is their own.
    other = await database_sync_to_async(make_user)()
    theirs = (await start_attempt(user=other, exam_id=exam.pk)).attempt
    theirs_socket = await open_socket(attempt_path(theirs.pk), other)
    await next_frame(theirs_socket, skip_ticks=False)
    assert (await request(theirs_socket, answer(question_ids[0])))["type"] == "answer_saved"
    for comm in [*sockets, theirs_socket]:
        await comm.disconnect()


class RowLock:
    """Holds an attempt's row lock in a thread of its own, as a slow transaction would."""

    def __init__(self, attempt_id: int) -> None:
        self.attempt_id = attempt_id
        self.held, self.release = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        try:
            with transaction.atomic():
                Attempt.objects.select_for_update().get(pk=self.attempt_id)
                self.held.set()
                self.release.wait(30)
        finally:
            connections.close_all()

    async def __aenter__(self) -> "RowLock":
        self.thread.start()
        assert await asyncio.to_thread(self.held.wait, WAIT)
        return self

    async def __aexit__(self, *exc) -> None:
        self.release.set()
        await asyncio.to_thread(self.thread.join)


async def test_actions_under_way_are_capped_per_user_and_the_excess_is_refused_at_once(
    student, exam, question_ids, settings
):
    settings.EXAM = {**settings.EXAM, "WS_MAX_INFLIGHT_PER_USER": 1}
    attempt = (await start_attempt(user=student, exam_id=exam.pk)).attempt
    slow, other = [await open_socket(attempt_path(attempt.pk), student) for _ in range(2)]
    for comm in (slow, other):
        await next_frame(comm, skip_ticks=False)
    async with RowLock(attempt.pk):
        await slow.send_to(text_data=json.dumps(answer(question_ids[0], request_id="slow")))
        limits = get_hub().limits
        while limits._users[student.pk].inflight < 1:  # the slow answer has begun: it waits on the lock
            await asyncio.sleep(0.01)
        reply = await reply_to(other, answer(question_ids[1], request_id="excess"))
        assert (reply["type"], reply["code"], reply["request_id"]) == ("error", "throttled", "excess")
    reply = await frame_of(slow, "answer_saved")
    assert reply["request_id"] == "slow"
    assert await answers_of(attempt.pk) == {question_ids[0]: "A"}
    # Done: the next one runs.
    assert (await reply_to(other, answer(question_ids[1], request_id="next")))["type"] == "answer_saved"
    for comm in (slow, other):
        await comm.disconnect()
