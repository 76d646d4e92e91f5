"""Abuse limits and bad input on the HTTP side: login throttles and lockout, proxy headers,
refresh of a deleted user, CSRF on unknown API paths, who may read /metrics."""

import pytest
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

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
    client = APIClient()
    # Unknown names: neither the per-account limit nor the lockout counts these.
    for n in range(3):
        assert_error(login(client, f"nobody{n}", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}"), 401)
    assert_error(login(client, "nobody9", HTTP_X_FORWARDED_FOR="198.51.100.9"), 429, "throttled")


@override_settings(NUM_PROXIES=1)
def test_behind_one_proxy_each_client_counts_apart(rates):
    rates(login="3/min")
    proxy = APIClient(REMOTE_ADDR="10.0.0.1")
    for n in range(3):
        assert_error(login(proxy, f"nobody{n}", HTTP_X_FORWARDED_FOR="203.0.113.1"), 401)
    # A client can prepend what it likes; the proxy's own entry (the last) is the one trusted.
    assert_error(login(proxy, "nobody3", HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.1"), 429, "throttled")
    assert_error(login(proxy, "nobody4", HTTP_X_FORWARDED_FOR="203.0.113.2"), 401)
