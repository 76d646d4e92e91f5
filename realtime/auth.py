"""WebSocket authentication: `?token=<access JWT>` puts the token's user id in the scope.

Only the signature and expiry are checked here, with no database call: the consumer's one
query at connect also checks that the user exists and is active (a handshake storm after a
blip is thousands of these at once).
"""

from urllib.parse import parse_qs

from channels.middleware import BaseMiddleware
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken


def user_id_from_token(token: str | None) -> int | None:
    """The user id a valid access token names, or None (bad, expired or missing token)."""
    if not token:
        return None
    try:
        # simplejwt's stubs type the argument as a Token; at runtime it is the encoded string.
        user_id = AccessToken(token)[api_settings.USER_ID_CLAIM]  # type: ignore[arg-type]
    except (TokenError, KeyError):
        return None
    try:
        return int(user_id)
    except (TypeError, ValueError):
        return None


class JwtAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        query = parse_qs(scope.get("query_string", b"").decode("latin1"))
        scope = dict(scope, user_id=user_id_from_token(query.get("token", [None])[0]))
        return await super().__call__(scope, receive, send)
