"""Limits that only a real process shows: the login lockout through daphne's async handler,
oversized WebSocket frames, and the address the listener's metrics port listens on."""

import asyncio
import http.cookiejar
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request

import psutil
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import token_for
from tests.support.http import rest_call
from tests.support.processes import daphne, free_port, listener

pytestmark = [pytest.mark.network, pytest.mark.django_db(transaction=True)]

WAIT = 10
FAILURE_LIMIT = 3
KIB = 1024
MIB = 1024 * KIB


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker) -> str:
    with daphne(LOGIN_FAILURE_LIMIT=FAILURE_LIMIT) as base:
        yield base


def api_login(base: str, username: str, password: str) -> tuple[int, dict]:
    return rest_call(base, "POST", "/api/auth/login/", body={"username": username, "password": password}, timeout=WAIT)


def admin_login(base: str, username: str, password: str) -> tuple[int, str]:
    """Sign in through the admin's form (with its CSRF token), as a browser would."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/admin/login/", timeout=WAIT).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": username, "password": password})
    request = urllib.request.Request(f"{base}/admin/login/?next=/admin/", data=form.encode(), method="POST")
    try:
        with opener.open(request, timeout=WAIT) as response:
            return response.status, response.geturl()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_a_locked_account_is_refused_through_daphne_over_the_api_and_the_admin(server, make_user):
    admin = make_user(staff=True)
    admin.is_superuser = True
    admin.save()
    for _ in range(FAILURE_LIMIT - 1):
        assert api_login(server, admin.username, "wrong")[0] == 401
    status, body = api_login(server, admin.username, "wrong")
    assert (status, body["error"]["code"]) == (429, "account_locked")
    status, body = api_login(server, admin.username, "pw")
    assert (status, body["error"]["code"]) == (429, "account_locked")
    status, text = admin_login(server, admin.username, "pw")
    assert status == 429 and "locked" in text

    other = make_user(staff=True)
    other.is_superuser = True
    other.save()
    status, landed = admin_login(server, other.username, "pw")
    assert status == 200 and landed.endswith("/admin/")  # the form works: signed in, sent on


# --- Oversized WebSocket messages -------------------------------------------------------------


async def open_attempt_socket(base: str, student, exam):
    token = token_for(student)
    status, body = await asyncio.to_thread(
        rest_call, base, "POST", f"/api/exam/timer/start/{exam.pk}/", token, None, timeout=WAIT
    )
    assert status == 201, body
    uri = f"{base.replace('http://', 'ws://')}/ws/attempts/{body['attempt_id']}/?token={token}"
    ws = await connect(uri, origin=base, open_timeout=WAIT)
    assert json.loads(await asyncio.wait_for(ws.recv(), WAIT))["type"] == "timer"
    return ws


async def next_answer(ws) -> dict:
    """The first frame that is not a `timer` tick."""
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        if frame["type"] != "timer":
            return frame


def error_code(frame: dict) -> str:
    assert frame["type"] == "error", frame
    return frame["code"]


def answer_of(size: int) -> str:
    return json.dumps({"type": "answer", "question_id": 1, "selected_option": "A" * size})


async def test_a_large_message_under_the_transport_limit_gets_message_too_large(server, student, exam):
    async with await open_attempt_socket(server, student, exam) as ws:
        await ws.send(answer_of(512 * KIB))
        assert error_code(await next_answer(ws)) == "message_too_large"
        # The socket carries on.
        await ws.send(json.dumps({"type": "nope", "request_id": "r1"}))
        assert error_code(await next_answer(ws)) == "unknown_type"


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(answer_of(2 * MIB), id="one-2MiB-frame"),
        pytest.param([answer_of(2 * MIB)[i : i + 256 * KIB] for i in range(0, 2 * MIB, 256 * KIB)], id="fragmented"),
        pytest.param(answer_of(20 * MIB), id="one-20MiB-frame"),
    ],
)
async def test_an_oversized_message_is_closed_with_1009_not_dropped(server, student, exam, message):
    async with await open_attempt_socket(server, student, exam) as ws:
        try:
            await ws.send(message)
        except ConnectionClosed:
            pass  # closed while the client was still sending: the close frame is read below
        with pytest.raises(ConnectionClosed) as closed:
            await next_answer(ws)
    assert closed.value.rcvd is not None, "the connection was dropped without a close frame"
    assert closed.value.rcvd.code == 1009


# --- The listener's metrics port --------------------------------------------------------------


def listening_address(pid: int, port: int, timeout: float = 20) -> str:
    """The address process `pid` listens on at `port` (polled until it listens)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for conn in psutil.Process(pid).net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port:
                return conn.laddr.ip
        time.sleep(0.05)
    raise TimeoutError(f"process {pid} never listened on {port}")


def test_the_listener_metrics_listen_on_loopback_by_default():
    port = free_port()
    with listener(LISTENER_METRICS_PORT=port) as proc:
        assert listening_address(proc.pid, port) == "127.0.0.1"


def test_the_listener_metrics_address_is_a_setting():
    port = free_port()
    with listener(LISTENER_METRICS_PORT=port, LISTENER_METRICS_ADDR="0.0.0.0") as proc:
        assert listening_address(proc.pid, port) == "0.0.0.0"
