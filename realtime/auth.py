"""WebSocket authentication: `?token=<access JWT>` sets the scope's user."""

from urllib.parse import parse_qs

from channels.middleware import BaseMiddleware
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken

from .db import db_call


@db_call
def _active_user(user_id):
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()


async def user_from_token(token: str | None):
    """The active user an access token names, or AnonymousUser (bad, expired or missing token)."""
    if not token:
        return AnonymousUser()
    try:
        user_id = AccessToken(token)[api_settings.USER_ID_CLAIM]
    except (TokenError, KeyError):
        return AnonymousUser()
    return await _active_user(user_id) or AnonymousUser()


class JwtAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        query = parse_qs(scope.get("query_string", b"").decode("latin1"))
        scope = dict(scope, user=await user_from_token(query.get("token", [None])[0]))
        return await super().__call__(scope, receive, send)
