"""Shared fixtures: a real Redis database flushed per test, the real test database, factories."""

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from exams.models import Exam, Question
from exams.redis_clients import get_redis, reset_clients
from tests.support.contract_check import check_response
from tests.support.redis_server import RedisServer

(Path(__file__).resolve().parents[1] / ".run").mkdir(exist_ok=True)
_names = itertools.count(1)


@pytest.fixture(autouse=True)
def clean_redis():
    """Each test starts on an empty Redis database of the tests' own (see test_settings)."""
    client = get_redis()
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def private_redis(request) -> Iterator[RedisServer]:
    """A redis-server of the test's own, and every Redis use of this process (timers, presence,
    cache and throttling, channel layer) pointed at it. Extra server options by indirect
    parametrization: `@pytest.mark.parametrize("private_redis", [("--opt", "value")], indirect=True)`."""
    server = RedisServer(*getattr(request, "param", ()))
    server.start()
    caches = {"default": {**settings.CACHES["default"], "LOCATION": server.url}}
    layers = {"default": {**settings.CHANNEL_LAYERS["default"]}}
    host = {**layers["default"]["CONFIG"]["hosts"][0], "address": server.url}
    layers["default"]["CONFIG"] = {**layers["default"]["CONFIG"], "hosts": [host]}
    try:
        with override_settings(REDIS_URL=server.url, CACHES=caches, CHANNEL_LAYERS=layers):
            reset_clients()
            yield server
    finally:
        reset_clients()
        server.stop()


@pytest.fixture
def make_user(db) -> Callable:
    def make(*, staff: bool = False, username: str | None = None):
        username = username or f"{'proctor' if staff else 'student'}{next(_names)}"
        user = get_user_model().objects.create_user(username=username, password="pw", is_staff=staff)
        return user

    return make


@pytest.fixture
def student(make_user):
    return make_user()


@pytest.fixture
def proctor(make_user):
    return make_user(staff=True)


@pytest.fixture
def make_exam(db) -> Callable:
    """An exam with `questions` questions; question i's correct option is "A", 1 point each."""

    def make(*, duration: int = 60, questions: int = 3, published: bool = True, **fields) -> Exam:
        exam = Exam.objects.create(
            title=f"Exam {next(_names)}", duration_seconds=duration, published=published, **fields
        )
        Question.objects.bulk_create(
            Question(
                exam=exam, order=i, text=f"Q{i}", options={"A": "right", "B": "wrong"}, correct_option="A", points=1
            )
            for i in range(1, questions + 1)
        )
        return exam

    return make


@pytest.fixture
def exam(make_exam) -> Exam:
    return make_exam()


def token_for(user) -> str:
    return str(AccessToken.for_user(user))


class CheckedAPIClient(APIClient):
    """An APIClient that checks every response body against its declaration (exams/contract)."""

    def request(self, **kwargs):
        response = super().request(**kwargs)
        check_response(response)
        return response


@pytest.fixture
def client_for() -> Callable[..., APIClient]:
    def make(user=None) -> APIClient:
        client = CheckedAPIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
        return client

    return make
