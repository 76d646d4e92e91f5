"""Client input, bounded and validated the same way over a socket and over REST.

A socket message and a REST body go through the same steps (size, nesting, JSON, the
declaration's fields), so the same bad input gets the same error code on both (codes.py).
"""

import json

from rest_framework import serializers

from exams.errors import ServiceError

from . import codes
from .codes import describe
from .fields import RequestId
from .limits import MAX_JSON_DEPTH, max_message_bytes


class BadInput(ServiceError):
    """Input refused before any service saw it; a socket echoes the `request_id` it could read."""

    def __init__(self, code: str, message: str, request_id=None) -> None:
        super().__init__(message, code=code, status=codes.ERRORS[code].status)
        self.request_id = request_id


def nesting(text: str) -> int:
    """The deepest bracket nesting outside strings (an upper bound on the JSON depth)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def parse_json(text: str, *, size: int | None = None) -> object:
    """Parse a client's JSON text within the size and nesting limits; `size` is its length in bytes."""
    limit = max_message_bytes()
    if (size if size is not None else len(text.encode())) > limit:
        raise BadInput(codes.MESSAGE_TOO_LARGE, f"Messages are limited to {limit} bytes.")
    if nesting(text) > MAX_JSON_DEPTH:
        raise BadInput(codes.INVALID, f"Messages may nest at most {MAX_JSON_DEPTH} levels deep.")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise BadInput(codes.MALFORMED_JSON, "The message is not valid JSON.") from None


def validate(declaration: type[serializers.Serializer], data: dict, *, request_id=None) -> dict:
    """The fields of `data` that `declaration` declares, validated; BadInput(`invalid`) naming the bad ones."""
    serializer = declaration(data=data)
    if not serializer.is_valid():
        raise BadInput(codes.INVALID, describe(serializer.errors), request_id)
    return dict(serializer.validated_data)


_REQUEST_ID = RequestId()


def parse_client_message(text: str | None, data: bytes | None, *, allowed: dict) -> dict:
    """A socket message as `{"type", "request_id"?, **fields}`, or BadInput.

    `allowed` maps each type this socket takes to its declaration (frames.STUDENT_MESSAGES or
    frames.PROCTOR_MESSAGES).
    """
    if text is None:
        raise BadInput(codes.UNSUPPORTED_MEDIA_TYPE, "Send JSON text frames, not binary.")
    message = parse_json(text)
    if not isinstance(message, dict):
        raise BadInput(codes.INVALID, "A message must be a JSON object with a `type`.")
    # Read first, so that every later refusal can echo it.
    request_id = message.get("request_id")
    if request_id is None:
        message.pop("request_id", None)  # null is no request_id
    else:
        try:
            _REQUEST_ID.run_validation(request_id)
        except serializers.ValidationError as exc:
            raise BadInput(codes.INVALID, f"request_id: {describe(exc.detail)}") from None
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in allowed:
        raise BadInput(
            codes.UNKNOWN_TYPE, f"Unknown message type {kind!r}; expected one of {sorted(allowed)}.", request_id
        )
    return validate(allowed[kind], message, request_id=request_id)


def request_id_of(text: str | None) -> object | None:
    """The valid `request_id` of a socket message, if it has one, without validating the rest:
    for a reply that refuses the message unread (`throttled`), at a fraction of the cost."""
    if text is None:
        return None
    try:
        message = parse_json(text)
    except BadInput:
        return None
    request_id = message.get("request_id") if isinstance(message, dict) else None
    if request_id is None:
        return None
    try:
        return _REQUEST_ID.run_validation(request_id)
    except serializers.ValidationError:
        return None
