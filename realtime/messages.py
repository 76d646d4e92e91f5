"""Validation of what clients send over a socket: bounded, typed, with contract error codes."""

import json

from django.conf import settings

# type -> {field: python type}
SCHEMAS: dict[str, dict[str, type]] = {
    "answer": {"question_id": int, "selected_option": str},
    "submit": {},
    "extend": {"attempt_id": int, "seconds": int},
    "force_submit": {"attempt_id": int},
}


# Every valid message is one flat object; deeper nesting is refused before parsing (a 4 KB
# frame of brackets would otherwise exhaust the parser's recursion).
MAX_JSON_DEPTH = 4


def _nesting(text: str) -> int:
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


class BadMessage(Exception):
    def __init__(self, code: str, message: str, request_id=None):
        super().__init__(message)
        self.code, self.message, self.request_id = code, message, request_id


def parse_client_message(text: str | None, data: bytes | None, *, allowed) -> dict:
    """Return `{"type", "request_id"?, **fields}` or raise BadMessage."""
    if text is None:
        raise BadMessage("invalid_message", "Send JSON text frames, not binary.")
    if len(text.encode()) > settings.EXAM["WS_MAX_MESSAGE_BYTES"]:
        raise BadMessage("message_too_large", f"Messages are limited to {settings.EXAM['WS_MAX_MESSAGE_BYTES']} bytes.")
    if _nesting(text) > MAX_JSON_DEPTH:
        raise BadMessage("invalid_message", f"Messages may nest at most {MAX_JSON_DEPTH} levels deep.")
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        raise BadMessage("malformed_json", "The message is not valid JSON.") from None
    if not isinstance(message, dict):
        raise BadMessage("invalid_message", "A message must be a JSON object with a `type`.")
    request_id = message.get("request_id")
    if request_id is not None and (not isinstance(request_id, (str, int)) or len(str(request_id)) > 64):
        raise BadMessage("invalid_message", "request_id must be a string or number of at most 64 characters.")
    kind = message.get("type")
    if kind not in allowed:
        raise BadMessage(
            "unknown_type", f"Unknown message type {kind!r}; expected one of {sorted(allowed)}.", request_id
        )
    parsed = {"type": kind}
    if request_id is not None:
        parsed["request_id"] = request_id
    for field, expected in SCHEMAS[kind].items():
        value = message.get(field)
        # bool is an int in Python; a JSON true is not a valid id.
        if not isinstance(value, expected) or isinstance(value, bool) or (expected is str and not 0 < len(value) <= 8):
            raise BadMessage("invalid_message", f"`{field}` must be {_describe(expected)}.", request_id)
        if expected is int and value <= 0:
            raise BadMessage("invalid_message", f"`{field}` must be a positive whole number.", request_id)
        parsed[field] = value
    return parsed


def _describe(expected: type) -> str:
    return "a positive whole number" if expected is int else "a string of 1 to 8 characters"
