"""One exception handler: every API error becomes the contract's body
`{"error": {"code", "message"}}`, and a backing service that is down becomes 503."""

import logging

import redis
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.defaults import page_not_found, server_error
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from exams.contract import codes
from exams.contract.builders import error as error_body
from exams.errors import ServiceError

logger = logging.getLogger(__name__)

_DRF_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.ParseError: codes.MALFORMED_JSON,
    exceptions.UnsupportedMediaType: codes.UNSUPPORTED_MEDIA_TYPE,
    exceptions.Throttled: codes.THROTTLED,
    exceptions.ValidationError: codes.INVALID,
    exceptions.NotAcceptable: "not_acceptable",
}
_DEFAULT_CODES = {cls.default_code for cls in _DRF_CODES}


def exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        return Response(error_body(exc.code, exc.message), status=exc.status)
    if isinstance(exc, (redis.RedisError, OperationalError, InterfaceError)):
        logger.warning("backing service unavailable: %s", exc, exc_info=True)
        return Response(
            error_body(
                "service_unavailable", "A backing service (Redis or the database) is unavailable; please retry."
            ),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    if isinstance(exc, DatabaseError):
        logger.exception("database error")
        return Response(error_body("server_error", "The server could not complete this request."), status=500)
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled error in %s", context.get("view"), exc_info=exc)
        return Response(error_body("server_error", "The server could not complete this request."), status=500)
    fallback = codes.SERVER_ERROR if response.status_code >= 500 else codes.BAD_REQUEST
    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), fallback)
    chosen = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
    if isinstance(chosen, str) and chosen not in _DEFAULT_CODES:
        code = chosen  # a code the raiser chose (e.g. a permission's `code`)
    detail = getattr(exc, "detail", str(exc))
    # simplejwt puts its reason in a dict; keep its own code when it gives one.
    if isinstance(detail, dict) and isinstance(detail.get("code"), str):
        code = str(detail["code"])
        detail = detail.get("detail", detail)
    response.data = error_body(code, codes.describe(detail))
    return response


# Exempt from Django's CSRF check, which would answer an unknown POST with its HTML 403 page
# first: this view changes nothing, so there is nothing to forge (the API's views are exempt too).
@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """Catch-all under /api/: a JSON 404, also with DEBUG on."""
    return JsonResponse(error_body("not_found", f"No such endpoint: {request.path}"), status=404)


def handler404(request, exception=None):
    if request.path.startswith("/api/"):
        return api_not_found(request)
    return page_not_found(request, exception)


def handler500(request):
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("server_error", "The server could not complete this request."), status=500)
    return server_error(request)
