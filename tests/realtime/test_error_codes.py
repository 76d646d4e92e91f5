"""The same bad input gets the same error code over REST and over a socket (exams/contract/codes.py).

Each case is sent both ways, to the real views through the test client and to the real consumers
through WebsocketCommunicator; the REST status is the one the code is declared with.
"""

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from exams import services
from exams.contract.codes import CLOSE_NOT_FOUND, ERRORS
from exams.contract.limits import MAX_EXTEND_SECONDS, MAX_JSON_DEPTH, MAX_OPTION_LENGTH
from exams.models import Question
from project.asgi import application
from tests.conftest import CheckedAPIClient, token_for

from .test_consumers import ORIGIN, attempt_path, next_frame, open_socket, proctor_path, request

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_layer")]

BINARY = object()  # not JSON: a binary frame, or a body of another content type
OVER_SIZE = "x" * 5000  # over WS_MAX_MESSAGE_BYTES in these tests (4096)


def rest_code(user, path: str, body) -> tuple[int, str]:
    client = CheckedAPIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    if body is BINARY:
        response = client.post(path, b"\x00binary", content_type="application/octet-stream")
    elif isinstance(body, str):
        response = client.post(path, body, content_type="application/json")
    else:
        response = client.post(path, body, format="json")
    return response.status_code, response.json()["error"]["code"]


async def socket_code(comm, message) -> str:
    if message is BINARY:
        await comm.send_to(bytes_data=b"\x00binary")
        return (await next_frame(comm))["code"]
    reply = await request(comm, message)
    assert reply["type"] == "error", reply
    return reply["code"]


def deep(fields: dict) -> dict:
    value: object = 1
    for _ in range(MAX_JSON_DEPTH):
        value = [value]
    return {**fields, "nested": value}


# (REST body fields or raw text, the same for the socket, the code both must give)
ANSWER_CASES = [
    ({"question_id": "Q", "selected_option": "A"}, "invalid"),
    ({"question_id": "{q}", "selected_option": "A", "as_string": True}, "invalid"),
    ({"question_id": True, "selected_option": "A"}, "invalid"),
    ({"question_id": "{q}", "selected_option": "A" * (MAX_OPTION_LENGTH + 1)}, "invalid"),
    ({"question_id": "{q}", "selected_option": 1}, "invalid"),
    ({"question_id": "{q}"}, "invalid"),
    ({"question_id": "{q}", "selected_option": "Z"}, "invalid_option"),
    ({"question_id": 10**9, "selected_option": "A"}, "invalid_question"),
    ({"question_id": "{q}", "selected_option": "A", "deep": True}, "invalid"),
    ({"question_id": "{q}", "selected_option": "A", "pad": OVER_SIZE}, "message_too_large"),
    ("[1, 2]", "invalid"),
    ('{"question_id": ', "malformed_json"),
    (BINARY, "unsupported_media_type"),
]


def _answer_bodies(case, attempt_id: int, question_id: int) -> tuple:
    """The case as a REST body and as a socket message."""
    if not isinstance(case, dict):
        return case, case
    fields = {k: v for k, v in case.items() if k not in ("as_string", "deep")}
    if fields.get("question_id") == "{q}":
        fields["question_id"] = str(question_id) if case.get("as_string") else question_id
    if case.get("deep"):
        fields = deep(fields)
    rest = {"attempt_id": attempt_id, **fields}
    return json.dumps(rest) if "nested" in rest or "pad" in rest else rest, {"type": "answer", **fields}


@pytest.mark.parametrize(("case", "code"), ANSWER_CASES)
async def test_an_answer_is_refused_alike(student, exam, case, code):
    attempt = (await database_sync_to_async(services.start_attempt)(user=student, exam_id=exam.pk)).attempt
    question_id = await database_sync_to_async(lambda: Question.objects.filter(exam=exam).first().pk)()
    rest, message = _answer_bodies(case, attempt.pk, question_id)
    status, rest_error = await database_sync_to_async(rest_code)(student, "/api/exam/timer/submit-answer/", rest)
    comm = await open_socket(attempt_path(attempt.pk), student)
    await next_frame(comm, skip_ticks=False)
    socket_error = await socket_code(comm, message)
    await comm.disconnect()
    assert (rest_error, socket_error) == (code, code)
    assert status == ERRORS[code].status


EXTEND_CASES = [
    ({"seconds": MAX_EXTEND_SECONDS + 1}, "invalid"),
    ({"seconds": 0}, "invalid"),
    ({"seconds": "10"}, "invalid"),
    ({"seconds": True}, "invalid"),
    ({"seconds": 1.5}, "invalid"),
    ({}, "invalid"),
    ({"seconds": 10, "ended": True}, "attempt_ended"),
    ({"seconds": 10, "missing": True}, "not_found"),
]


@pytest.mark.parametrize(("case", "code"), EXTEND_CASES)
async def test_an_extension_is_refused_alike(student, proctor, exam, case, code):
    attempt = (await database_sync_to_async(services.start_attempt)(user=student, exam_id=exam.pk)).attempt
    if case.get("ended"):
        await database_sync_to_async(services.submit_attempt)(user=student, attempt_id=attempt.pk)
    attempt_id = attempt.pk + 1000 if case.get("missing") else attempt.pk
    fields = {k: v for k, v in case.items() if k not in ("ended", "missing")}
    status, rest_error = await database_sync_to_async(rest_code)(
        proctor, f"/api/exam/timer/extend/{attempt_id}/", fields
    )
    comm = await open_socket(proctor_path(exam.pk), proctor)
    await next_frame(comm)
    socket_error = await socket_code(comm, {"type": "extend", "attempt_id": attempt_id, **fields})
    await comm.disconnect()
    assert (rest_error, socket_error) == (code, code)
    assert status == ERRORS[code].status


@pytest.mark.django_db(transaction=True)
async def test_a_socket_path_that_names_nothing_is_closed_not_found(student):
    """/ws/exams/1/ (no such socket): 4404, as a missing attempt; it was a handshake 500 and a traceback."""
    comm = WebsocketCommunicator(application, f"/ws/exams/1/?token={token_for(student)}", headers=ORIGIN)
    connected, _ = await comm.connect()
    assert connected
    assert await comm.receive_output(5) == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}
    await comm.disconnect()
