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

from exams.errors import ServiceError

logger = logging.getLogger(__name__)

_DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.ParseError: "malformed_json",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ValidationError: "invalid",
    exceptions.NotAcceptable: "not_acceptable",
}
_DEFAULT_CODES = {cls.default_code for cls in _DRF_CODES}


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def _message(detail) -> str:
    """Flatten DRF's detail (a string, list or field dict) into one sentence."""
    if isinstance(detail, dict):
        parts = []
        for field, value in detail.items():
            text = _message(value)
            parts.append(text if field in ("detail", "non_field_errors") else f"{field}: {text}")
        return " ".join(parts)
    if isinstance(detail, list):
        return " ".join(_message(item) for item in detail)
    return str(detail)


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
    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error")
    codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
    if isinstance(codes, str) and codes not in _DEFAULT_CODES:
        code = codes  # a code the raiser chose (e.g. a permission's `code`)
    detail = getattr(exc, "detail", str(exc))
    # simplejwt puts its reason in a dict; keep its own code when it gives one.
    if isinstance(detail, dict) and isinstance(detail.get("code"), str):
        code = str(detail["code"])
        detail = detail.get("detail", detail)
    response.data = error_body(code, _message(detail))
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
