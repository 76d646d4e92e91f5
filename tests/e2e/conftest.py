"""Fixtures for the browser tests: real server processes and headless Chromium pages.

Playwright's sync API keeps an event loop running in the test's thread, and Django refuses
sync ORM calls there (rightly). So the browser starts lazily, on the first `new_page()`, and
tests do their database work before that, or afterwards through `in_thread()`.
"""

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
from django.db import connections
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright, expect, sync_playwright

from tests.support.http import rest_call
from tests.support.processes import daphne, listener

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LAPTOP = {"width": 1366, "height": 860}
PHONE = {"width": 390, "height": 844}
PASSWORD = "pw"  # the conftest factories' password

expect.set_options(timeout=10_000)


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker) -> str:
    """A real daphne and a real expiry listener on the test database; yields daphne's base URL."""
    with daphne() as base, listener():
        yield base


@pytest.fixture
def short_token_server(django_db_setup, django_db_blocker) -> str:
    """Like `server`, with access tokens that expire after 9 seconds (to see them refreshed)."""
    env = {"JWT_ACCESS_MINUTES": "0.15"}
    with daphne(**env) as base, listener(**env):
        yield base


def in_thread(func: Callable, *args, **kwargs):
    """Run ORM code in a worker thread (not the one where Playwright's loop runs)."""

    def call():
        try:
            return func(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def rest(base: str, method: str, path: str, token: str | None = None, body: dict | None = None) -> tuple[int, dict]:
    """A REST call from the test itself (not the browser), e.g. a second student's actions."""
    return rest_call(base, method, path, token, body)


def login(base: str, username: str) -> str:
    status, body = rest(base, "POST", "/api/auth/login/", body={"username": username, "password": PASSWORD})
    assert status == 200, body
    return body["access"]


@dataclass
class Browsers:
    """Headless Chromium pages, each in its own context (its own sessionStorage), with their console errors."""

    base: str
    problems: list[str] = field(default_factory=list)
    allowed: list[re.Pattern] = field(default_factory=list)
    playwright: Playwright | None = None
    browser: Browser | None = None
    contexts: list[BrowserContext] = field(default_factory=list)

    def new_page(self, name: str, viewport: dict = LAPTOP) -> Page:
        if self.browser is None:
            self.playwright = sync_playwright().start()
            self.browser = self.playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = self.browser.new_context(viewport=viewport, base_url=self.base)
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: self._console(name, message))
        page.on("pageerror", lambda error: self.problems.append(f"{name}: uncaught {error}"))
        return page

    def allow_console_error(self, pattern: str) -> None:
        """An error the test causes on purpose (e.g. the browser's own log line for a request made offline)."""
        self.allowed.append(re.compile(pattern))

    def _console(self, name: str, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        text = f"{message.text} [{message.location.get('url', '')}]"
        if not any(pattern.search(text) for pattern in self.allowed):
            self.problems.append(f"{name}: console error: {text}")

    def assert_clean(self) -> None:
        assert self.problems == [], "errors in the browser console:\n" + "\n".join(self.problems)

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        if self.browser is not None:
            self.browser.close()
            self.playwright.stop()


@pytest.fixture
def browsers(request) -> Browsers:
    """Pages on the module's server, or on the test's own `short_token_server` when it asks for one."""
    own = "short_token_server" in request.fixturenames
    pages = Browsers(base=request.getfixturevalue("short_token_server" if own else "server"))
    yield pages
    pages.close()


def sign_in(page: Page, path: str, username: str, password: str = PASSWORD) -> None:
    page.goto(path)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def countdown_seconds(text: str) -> int:
    """ "4:05" -> 245, "1:02:03" -> 3723."""
    seconds = 0
    for part in text.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds
