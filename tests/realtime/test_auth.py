"""realtime/auth.py: the socket's `?token=` access JWT, checked without a database call."""

from datetime import timedelta

import jwt
import pytest
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from realtime.auth import Grant, JwtAuthMiddleware, read_access_token, user_id_from_token
from tests.conftest import token_for


def signed(payload: dict, key: str | None = None, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, key if key is not None else api_settings.SIGNING_KEY, algorithm=algorithm)


@pytest.mark.django_db
def test_a_valid_access_token_names_its_user(student):
    assert user_id_from_token(token_for(student)) == student.pk


@pytest.mark.django_db
def test_an_expired_token_names_nobody(student):
    token = AccessToken.for_user(student)
    token.set_exp(lifetime=-timedelta(seconds=1))
    assert user_id_from_token(str(token)) is None


@pytest.mark.django_db
def test_a_forged_token_names_nobody(student):
    genuine = AccessToken.for_user(student)
    assert user_id_from_token(signed(dict(genuine.payload), key="not-the-server-key-" + "x" * 32)) is None
    # The genuine header and signature around another user's id.
    header, _, signature = str(genuine).split(".")
    _, other_payload, _ = signed({**genuine.payload, api_settings.USER_ID_CLAIM: student.pk + 1}).split(".")
    assert user_id_from_token(f"{header}.{other_payload}.{signature}") is None
    # Unsigned.
    assert user_id_from_token(jwt.encode(dict(genuine.payload), None, algorithm="none")) is None


@pytest.mark.django_db
def test_a_refresh_token_is_not_an_access_token(student):
    assert user_id_from_token(str(RefreshToken.for_user(student))) is None


@pytest.mark.parametrize("token", [None, "", "garbage", "a.b.c"])
def test_a_missing_or_malformed_token_names_nobody(token):
    assert user_id_from_token(token) is None


def test_a_signed_access_token_without_a_usable_user_id_names_nobody():
    token = AccessToken()  # valid signature, type and expiry; no user id claim
    assert user_id_from_token(str(token)) is None
    token[api_settings.USER_ID_CLAIM] = "not-a-number"
    assert user_id_from_token(str(token)) is None
    token[api_settings.USER_ID_CLAIM] = "42"
    assert user_id_from_token(str(token)) == 42


async def scope_passed_on(scope: dict) -> dict:
    """The scope the middleware passed on to the application."""
    seen = {}

    async def app(scope, receive, send):
        seen.update(scope)

    await JwtAuthMiddleware(app)(scope, None, None)
    return seen


async def user_id_in_scope(scope: dict):
    """The `user_id` the middleware put in the scope it passed on."""
    return (await scope_passed_on(scope))["user_id"]


@pytest.mark.django_db
async def test_the_middleware_reads_the_query_string(student):
    token = token_for(student)
    assert await user_id_in_scope({"type": "websocket", "query_string": f"token={token}".encode()}) == student.pk
    other = f"lang=en&token={token}&token=ignored".encode()
    assert await user_id_in_scope({"type": "websocket", "query_string": other}) == student.pk


@pytest.mark.django_db
async def test_the_middleware_sets_none_without_a_good_token(student):
    expired = AccessToken.for_user(student)
    expired.set_exp(lifetime=-timedelta(seconds=1))
    for query in (b"", b"token=", b"token=garbage", f"token={expired}".encode()):
        assert await user_id_in_scope({"type": "websocket", "query_string": query}) is None, query
    assert await user_id_in_scope({"type": "websocket"}) is None  # no query string at all


@pytest.mark.django_db
def test_a_valid_access_token_grants_its_user_until_its_expiry(student):
    token = AccessToken.for_user(student)
    assert read_access_token(str(token)) == Grant(student.pk, float(token["exp"]))
    token.set_exp(lifetime=-timedelta(seconds=1))
    assert read_access_token(str(token)) is None


@pytest.mark.django_db
async def test_the_middleware_puts_the_token_s_expiry_in_the_scope(student):
    """The socket lives as long as its token (issue 10 §1): the consumer needs to know how long that is."""
    token = AccessToken.for_user(student)
    scope = await scope_passed_on({"type": "websocket", "query_string": f"token={token}".encode()})
    assert (scope["user_id"], scope["token_expires_at"]) == (student.pk, float(token["exp"]))
    scope = await scope_passed_on({"type": "websocket", "query_string": b"token=garbage"})
    assert (scope["user_id"], scope["token_expires_at"]) == (None, None)


@pytest.mark.django_db
async def test_an_authorization_header_is_not_read(student):
    """Browsers can't set headers on a WebSocket: the query string is the only way in."""
    header = (b"authorization", f"Bearer {token_for(student)}".encode())
    assert await user_id_in_scope({"type": "websocket", "query_string": b"", "headers": [header]}) is None
