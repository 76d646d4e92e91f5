"""Rules the exam room's services share: who may act, what text is accepted, how often."""

from datetime import timedelta

from django.contrib.auth.models import User
from django.db.models import QuerySet

from . import clock
from .contract import codes
from .contract.limits import RATE_WINDOW_SECONDS
from .errors import Forbidden, ServiceError


def require_staff(user: User) -> None:
    if not user.is_staff:
        raise Forbidden("Only proctors (staff users) can do this.", code="not_staff")


def clean_text(text: object, *, field: str, limit: int) -> str:
    """The text as sent if it is a non-empty string of at most `limit` characters, as the declarations
    say (the parsers check this first; services check again for callers that bypass them)."""
    if not isinstance(text, str) or not text:
        raise ServiceError(f"{field}: write something.", code=codes.INVALID)
    if len(text) > limit or "\x00" in text:
        raise ServiceError(f"{field}: at most {limit} characters, and no NUL.", code=codes.INVALID)
    return text


def within_rate(recent: QuerySet, *, field: str, limit: int, what: str) -> None:
    """Refuse (429 `throttled`) when `recent` already holds `limit` rows whose `field` is in the window.

    Counted in the database, so every server process shares the count; the caller holds a row
    lock that orders two racing writers."""
    since = clock.now() - timedelta(seconds=RATE_WINDOW_SECONDS)
    if recent.filter(**{f"{field}__gte": since}).count() >= limit:
        raise ServiceError(
            f"At most {limit} {what} per {RATE_WINDOW_SECONDS} seconds; wait a little.",
            code=codes.THROTTLED,
            status=429,
        )
