"""Abuse limits and bad input on the HTTP side: login throttles and lockout, proxy headers,
refresh of a deleted user, CSRF on unknown API paths, who may read /metrics."""

import json
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client, override_settings
from rest_framework.throttling import ScopedRateThrottle
from rest_framework_simplejwt.tokens import RefreshToken

from exams import clock
from tests.conftest import CheckedAPIClient

from .conftest import assert_error

pytestmark = pytest.mark.django_db

LOGIN = "/api/auth/login/"
REFRESH = "/api/auth/refresh/"


@pytest.fixture
def rates(monkeypatch):
    """Set some throttle rates for one test (the others keep the settings' values)."""

    def set_rates(**changes: str) -> None:
        monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, **changes})

    return set_rates


def login(client, username: str, password: str = "pw", **extra):
    return client.post(LOGIN, {"username": username, "password": password}, format="json", **extra)


# --- The address a limit counts ----------------------------------------------------------------


def test_rotating_x_forwarded_for_does_not_escape_the_address_limit(rates):
    rates(login="3/min")
    client = CheckedAPIClient()
    # Unknown names: neither the per-account limit nor the lockout counts these.
    for n in range(3):
        assert_error(login(client, f"nobody{n}", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}"), 401)
    assert_error(login(client, "nobody9", HTTP_X_FORWARDED_FOR="198.51.100.9"), 429, "throttled")


@override_settings(NUM_PROXIES=1)
def test_behind_one_proxy_each_client_counts_apart(rates):
    rates(login="3/min")
    proxy = CheckedAPIClient(REMOTE_ADDR="10.0.0.1")
    for n in range(3):
        assert_error(login(proxy, f"nobody{n}", HTTP_X_FORWARDED_FOR="203.0.113.1"), 401)
    # A client can prepend what it likes; the proxy's own entry (the last) is the one trusted.
    assert_error(login(proxy, "nobody3", HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.1"), 429, "throttled")
    assert_error(login(proxy, "nobody4", HTTP_X_FORWARDED_FOR="203.0.113.2"), 401)


# --- A classroom behind one address ------------------------------------------------------------


def test_a_classroom_behind_one_address_logs_in_with_the_default_limits(make_user):
    client = CheckedAPIClient()  # one address for all
    students = [make_user() for _ in range(40)]
    for student in students:
        response = login(client, student.username)
        assert response.status_code == 200, response.content
        refreshed = client.post(REFRESH, {"refresh": response.json()["refresh"]}, format="json")
        assert refreshed.status_code == 200, refreshed.content


def test_refresh_has_a_limit_of_its_own(rates, student):
    rates(login="2/min")
    client = CheckedAPIClient()
    tokens = login(client, student.username).json()
    assert_error(login(client, "nobody"), 401)
    assert_error(login(client, student.username), 429, "throttled")
    assert client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json").status_code == 200


def test_logins_per_account_are_limited_across_addresses(rates, make_user):
    rates(login_account="3/min")
    student, classmate = make_user(), make_user()
    for n in range(3):
        assert login(CheckedAPIClient(REMOTE_ADDR=f"198.51.100.{n}"), student.username).status_code == 200
    response = login(CheckedAPIClient(REMOTE_ADDR="198.51.100.9"), student.username)
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    # Counted per account (case-insensitively: MySQL matches names that way), not per address.
    assert_error(login(CheckedAPIClient(REMOTE_ADDR="198.51.100.9"), student.username.upper()), 429, "throttled")
    assert login(CheckedAPIClient(REMOTE_ADDR="198.51.100.9"), classmate.username).status_code == 200


# --- Failed-login lockout ----------------------------------------------------------------------


@override_settings(AXES_FAILURE_LIMIT=3)
def test_failed_logins_lock_the_account_then_the_cool_off_ends_it(make_user):
    student, classmate = make_user(), make_user()
    for n in range(2):
        assert_error(login(CheckedAPIClient(REMOTE_ADDR=f"198.51.100.{n}"), student.username, "wrong"), 401)
    # The failure that reaches the limit is told so.
    assert_error(login(CheckedAPIClient(REMOTE_ADDR="198.51.100.2"), student.username, "wrong"), 429, "account_locked")
    # Locked: the right password does not get in, from any address.
    response = login(CheckedAPIClient(REMOTE_ADDR="192.0.2.1"), student.username)
    error = assert_error(response, 429, "account_locked")
    assert "minutes" in error["message"]
    assert int(response["Retry-After"]) > 0
    # The account is locked, not the address: a classmate there logs in.
    assert login(CheckedAPIClient(REMOTE_ADDR="198.51.100.2"), classmate.username).status_code == 200
    # The cool-off passes (the lock is a database row: every process sees it).
    AccessAttempt.objects.filter(username=student.username).update(
        attempt_time=clock.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )
    assert login(CheckedAPIClient(), student.username).status_code == 200


def test_a_failed_login_with_a_very_long_name_is_401():
    # The lockout stores the name tried (at most 255 characters there).
    assert_error(login(CheckedAPIClient(), "x" * 1000, "wrong"), 401)


def test_admin_login_is_locked_out_after_failures(make_user):
    admin = make_user(staff=True)
    admin.is_superuser = True
    admin.save()
    client = Client()
    for _ in range(40):
        client.post("/admin/login/?next=/admin/", {"username": admin.username, "password": "wrong"})
    response = client.post("/admin/login/?next=/admin/", {"username": admin.username, "password": "pw"})
    assert response.status_code == 429
    assert b"locked" in response.content.lower()
    # Not signed in: the admin index still sends to the login page.
    assert client.get("/admin/").status_code == 302


def test_a_locked_account_is_locked_for_the_admin_too(make_user):
    admin = make_user(staff=True)
    admin.is_superuser = True
    admin.save()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(CheckedAPIClient(), admin.username, "wrong")
    response = Client().post("/admin/login/?next=/admin/", {"username": admin.username, "password": "pw"})
    assert response.status_code == 429


# --- Bad input ---------------------------------------------------------------------------------


def test_refresh_for_a_deleted_user_is_401(student):
    refresh = str(RefreshToken.for_user(student))
    student.delete()
    response = CheckedAPIClient().post(REFRESH, {"refresh": refresh}, format="json")
    assert_error(response, 401)


@pytest.mark.parametrize("path", ["/api/nope/", "/api/exam/timer/start/abc/"])
def test_a_post_to_an_unknown_api_path_is_a_json_404_not_a_csrf_page(path):
    # A browser-like client: Django's CSRF check is enforced, as it is outside the test client.
    client = Client(enforce_csrf_checks=True)
    response = client.post(path, data=json.dumps({}), content_type="application/json")
    assert_error(response, 404, "not_found")


# --- /metrics on the web port -----------------------------------------------------------------


def test_metrics_are_served_to_loopback():
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="::1").get("/metrics").status_code == 200


def test_metrics_are_refused_to_other_addresses():
    assert_error(Client(REMOTE_ADDR="203.0.113.5").get("/metrics"), 403, "forbidden")
    # A header can't make a remote client look local.
    response = Client(REMOTE_ADDR="203.0.113.5").get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert_error(response, 403, "forbidden")


@override_settings(NUM_PROXIES=1)
def test_behind_a_local_proxy_metrics_judge_the_client_not_the_proxy():
    proxy = Client(REMOTE_ADDR="127.0.0.1")
    assert_error(proxy.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.5"), 403, "forbidden")
    assert proxy.get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 200


@override_settings(METRICS_ALLOWED_NETWORKS=["10.1.0.0/16"])
def test_metrics_networks_are_a_setting():
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 403


@override_settings(METRICS_TOKEN="s3cret-token")
def test_metrics_with_the_token_from_anywhere():
    remote = Client(REMOTE_ADDR="203.0.113.5")
    assert remote.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200
    assert_error(remote.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong"), 403, "forbidden")
    assert_error(remote.get("/metrics"), 403, "forbidden")
