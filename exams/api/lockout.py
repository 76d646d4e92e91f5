"""The failed-login lockout (django-axes) as the API and the admin answer it.

Axes counts failures per account name in the database, so every daphne process agrees and a
Redis outage changes nothing; it refuses a locked account in its authentication backend,
before the password is checked. Its own lockout answer is made by its middleware from a flag
on the request; simplejwt hands authenticate() DRF's Request, where that flag never reaches
the middleware, so for the API the lockout signal raises an API error instead (the recipe in
axes' DRF integration notes).
"""

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import get_user_model
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.exceptions import ErrorDetail, Throttled
from rest_framework.request import Request

from .errors import error_body

CODE = "account_locked"


def lockout_message() -> str:
    minutes = round(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    return (
        f"Too many failed sign-ins for this account: it is locked for up to {minutes} minutes. "
        "A proctor can unlock it sooner."
    )


def _retry_after() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


class AccountLocked(Throttled):
    """429 `account_locked`; Retry-After is the whole cool-off (an upper bound)."""

    def __init__(self) -> None:
        super().__init__(wait=_retry_after())
        self.detail = ErrorDetail(lockout_message(), code=CODE)  # without DRF's "Expected available in ..."


@receiver(user_locked_out)
def raise_for_api_requests(sender, request=None, **kwargs) -> None:
    """A lockout during an API login ends that request with `account_locked`."""
    if isinstance(request, Request):
        raise AccountLocked()


def lockout_response(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: what the admin's login (or any non-DRF login) answers when locked."""
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body(CODE, lockout_message()), status=429)
    else:
        response = HttpResponse(lockout_message(), status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(_retry_after())
    return response


def attempted_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """AXES_USERNAME_CALLABLE: the name tried, cut to the longest a user can have.

    Axes stores it in a 255-character column: a longer one was a database error (a 500).
    """
    field = get_user_model().USERNAME_FIELD
    name = (credentials or {}).get(field)
    if name is None:
        name = request.POST.get(field)
    if not isinstance(name, str):
        return None
    return name[: getattr(get_user_model()._meta.get_field(field), "max_length", None) or 150]
