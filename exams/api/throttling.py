"""Rate limits counted in the cache (Redis) that let requests through while Redis is down."""

import hashlib
import logging

import redis
from rest_framework.throttling import ScopedRateThrottle

from project.client_address import client_ip

logger = logging.getLogger(__name__)


class FailOpenScopedRateThrottle(ScopedRateThrottle):
    """A scoped rate limit per client address that allows the request when its counter can't be read.

    Throttling protects the server; a student's answer or login matters more than counting it.
    The cache's short timeouts (settings.OPTIONAL_REDIS_TIMEOUT) turn a hung Redis into a
    redis.TimeoutError (a RedisError) within ~0.1 s, so the wait never makes an answer late.
    """

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except redis.RedisError:
            logger.warning("throttle cache unavailable; letting %s through", request.path, exc_info=True)
            return True

    def get_ident(self, request) -> str:
        return client_ip(request)


class LoginAccountThrottle(FailOpenScopedRateThrottle):
    """Logins per account name, from any address (the view's `account_throttle_scope`).

    Names are folded to one case: MySQL's collation matches `Ann` and `ann` to one account,
    so each spelling must not be a fresh allowance. A body without a name is left to the
    serializer to refuse.
    """

    scope_attr = "account_throttle_scope"

    def get_cache_key(self, request, view) -> str | None:
        data = request.data
        username = data.get("username") if isinstance(data, dict) else None
        if not isinstance(username, str) or not username:
            return None
        ident = hashlib.sha256(username.casefold().encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}
