"""Limits that only a real process shows: the login lockout through daphne's async handler, and
the address the listener's metrics port listens on."""

import http.cookiejar
import re
import time
import urllib.error
import urllib.parse
import urllib.request

import psutil
import pytest

from tests.support.http import rest_call
from tests.support.processes import daphne, free_port, listener

pytestmark = [pytest.mark.network, pytest.mark.django_db(transaction=True)]

WAIT = 10
FAILURE_LIMIT = 3


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
