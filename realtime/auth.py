"""WebSocket authentication: `?token=<access JWT>` puts the token's user id and expiry in the scope.

Only the signature and expiry are checked here, with no database call: the consumer's one
query at connect also checks that the user exists and is active (a handshake storm after a
blip is thousands of these at once). The socket lives only as long as its token: past
`token_expires_at` it is closed with 4401 unless the client sent a fresh token in an `auth`
message (realtime/rights.py).
"""

from typing import NamedTuple
from urllib.parse import parse_qs

from channels.middleware import BaseMiddleware
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken


class Grant(NamedTuple):
    """What a valid access token grants: its user, until its expiry (epoch seconds)."""

    user_id: int
    expires_at: float


def read_access_token(token: str | None) -> Grant | None:
    """The user and expiry of a valid access token, or None (bad, expired or missing token)."""
    if not token or not isinstance(token, str):
        return None
    try:
        # simplejwt's stubs type the argument as a Token; at runtime it is the encoded string.
        access = AccessToken(token)  # type: ignore[arg-type]
        user_id, expires_at = access[api_settings.USER_ID_CLAIM], access["exp"]
    except (TokenError, KeyError):
        return None
    try:
        return Grant(int(user_id), float(expires_at))
    except (TypeError, ValueError):
        return None


def user_id_from_token(token: str | None) -> int | None:
    """The user id a valid access token names, or None (bad, expired or missing token)."""
    grant = read_access_token(token)
    return grant.user_id if grant else None


class JwtAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        query = parse_qs(scope.get("query_string", b"").decode("latin1"))
        grant = read_access_token(query.get("token", [None])[0])
        scope = dict(
            scope,
            user_id=grant.user_id if grant else None,
            token_expires_at=grant.expires_at if grant else None,
        )
        return await super().__call__(scope, receive, send)
