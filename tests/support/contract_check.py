"""Every REST body and socket frame a test receives, checked against its declaration.

As Zulip's `verify_action` checks every event against `zerver/lib/event_types.py`: the test
clients (tests/conftest.py `client_for`, tests/support/http.py `rest_call`, the socket helpers
in tests/realtime/) call these on everything they receive, so a builder (exams/contract/
builders.py) can't drift from its declaration (exams/contract/rest.py, frames.py) without a
failing test. A missing field, an undeclared one, a wrong type or a value out of its declared
range is a failure.
"""

import functools
import json
import re
import threading
from urllib.parse import urlsplit

from django.urls import Resolver404, resolve
from rest_framework import serializers

from exams.contract import frames, rest
from exams.contract.fields import CompactRows, RequestId

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class ShapeError(AssertionError):
    """A body or frame that does not match its declaration."""


def check(declaration: type[serializers.Serializer] | serializers.Serializer, data, where: str = "body") -> None:
    """Raise ShapeError unless `data` is exactly what `declaration` declares."""
    serializer = declaration() if isinstance(declaration, type) else declaration
    _object(serializer, data, where)


def _object(serializer: serializers.Serializer, data, where: str) -> None:
    if not isinstance(data, dict):
        raise ShapeError(f"{where}: expected an object, got {data!r}")
    fields = serializer.fields
    undeclared = set(data) - set(fields)
    if undeclared:
        raise ShapeError(f"{where}: undeclared field(s) {sorted(undeclared)} in {type(serializer).__name__}")
    for name, field in fields.items():
        if name not in data:
            if field.required:
                raise ShapeError(f"{where}: missing field {name!r} of {type(serializer).__name__}")
            continue
        if isinstance(field, CompactRows):
            _compact_rows(field, data, name, f"{where}.{name}")
        else:
            _value(field, data[name], f"{where}.{name}")


def _compact_rows(field: CompactRows, data: dict, name: str, where: str) -> None:
    """Each row, read back through the frame's `columns`, must be exactly a `field.row`."""
    columns, rows = data.get("columns"), data[name]
    declared = list(field.row().fields)
    if columns != declared:
        raise ShapeError(f"{where}: columns {columns!r} are not {field.row.__name__}'s fields {declared!r}")
    if not isinstance(rows, list):
        raise ShapeError(f"{where}: expected a list, got {rows!r}")
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(columns):
            raise ShapeError(f"{where}[{i}]: expected a list of {len(columns)} values, got {row!r}")
        row_declaration = field.row()
        values = dict(zip(columns, row, strict=True))
        # An optional field the row lacks is null in its place.
        absent = [c for c, v in values.items() if v is None and not row_declaration.fields[c].required]
        _object(row_declaration, {c: v for c, v in values.items() if c not in absent}, f"{where}[{i}]")


def snapshot_rows(frame: dict) -> list[dict]:
    """A proctor `snapshot` frame's rows as objects (rest.ProctorRow), as `snapshotRows` in contract.js reads them."""
    return [dict(zip(frame["columns"], row, strict=True)) for row in frame["rows"]]


def _value(field: serializers.Field, value, where: str) -> None:
    if value is None:
        if not field.allow_null:
            raise ShapeError(f"{where}: null is not allowed")
        return
    if isinstance(field, serializers.ListSerializer):
        if not isinstance(value, list):
            raise ShapeError(f"{where}: expected a list, got {value!r}")
        for i, item in enumerate(value):
            _object(field.child, item, f"{where}[{i}]")
    elif isinstance(field, serializers.ListField):
        if not isinstance(value, list):
            raise ShapeError(f"{where}: expected a list, got {value!r}")
        for i, item in enumerate(value):
            _value(field.child, item, f"{where}[{i}]")
    elif isinstance(field, serializers.Serializer):
        _object(field, value, where)
    elif isinstance(field, RequestId):
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ShapeError(f"{where}: a request_id is a string or an integer, got {value!r}")
    elif isinstance(field, serializers.ChoiceField):
        if value not in field.choices:
            raise ShapeError(f"{where}: {value!r} is not one of {sorted(field.choices)}")
    elif isinstance(field, serializers.BooleanField):
        if not isinstance(value, bool):
            raise ShapeError(f"{where}: expected a boolean, got {value!r}")
    elif isinstance(field, serializers.IntegerField):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ShapeError(f"{where}: expected an integer, got {value!r}")
        if field.min_value is not None and value < field.min_value:
            raise ShapeError(f"{where}: {value} is below the declared minimum {field.min_value}")
        if field.max_value is not None and value > field.max_value:
            raise ShapeError(f"{where}: {value} is above the declared maximum {field.max_value}")
    elif isinstance(field, serializers.FloatField):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ShapeError(f"{where}: expected a number, got {value!r}")
    elif isinstance(field, serializers.DateTimeField):
        if not isinstance(value, str) or not TIMESTAMP.match(value):
            raise ShapeError(f"{where}: expected an ISO 8601 UTC time with milliseconds, got {value!r}")
    elif isinstance(field, serializers.CharField):
        if not isinstance(value, str):
            raise ShapeError(f"{where}: expected a string, got {value!r}")
        if value == "" and not field.allow_blank:
            raise ShapeError(f"{where}: the empty string is not allowed")
        if field.max_length is not None and len(value) > field.max_length:
            raise ShapeError(f"{where}: longer than the declared {field.max_length} characters")
    elif isinstance(field, serializers.ListField):
        if not isinstance(value, list):
            raise ShapeError(f"{where}: expected a list, got {value!r}")
        for i, item in enumerate(value):
            _value(field.child, item, f"{where}[{i}]")
    elif isinstance(field, serializers.DecimalField):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ShapeError(f"{where}: expected a number, got {value!r}")
        if field.min_value is not None and value < field.min_value:
            raise ShapeError(f"{where}: {value} is below the declared minimum {field.min_value}")
        if field.max_value is not None and value > field.max_value:
            raise ShapeError(f"{where}: {value} is above the declared maximum {field.max_value}")
    elif isinstance(field, serializers.DictField):
        if not isinstance(value, dict):
            raise ShapeError(f"{where}: expected an object, got {value!r}")
        for key, item in value.items():
            _value(field.child, item, f"{where}[{key!r}]")
    elif isinstance(field, serializers.ListField):
        if not isinstance(value, list):
            raise ShapeError(f"{where}: expected a list, got {value!r}")
        for i, item in enumerate(value):
            _value(field.child, item, f"{where}[{i}]")
    else:
        raise ShapeError(f"{where}: the checker does not know the field type {type(field).__name__}")


# --- REST ------------------------------------------------------------------------------------


_reading = threading.Lock()


def _declared_responses() -> dict[tuple[type, str], dict[int, type]]:
    """(view class, method) -> {status: declaration}, read from the views' `@extend_schema`, as the schema is.

    Read once, by one thread: drf-spectacular's first load of its extensions is not thread-safe (a
    second thread found a class already set to None), and REST tests call from thread pools."""
    with _reading:
        return _read_declared_responses()


@functools.cache
def _read_declared_responses() -> dict[tuple[type, str], dict[int, type]]:
    from drf_spectacular.generators import SchemaGenerator

    generator = SchemaGenerator()
    generator._initialise_endpoints()
    declared = {}
    for path, _, method, callback in generator.endpoints:
        if _outside_json_api(path):
            continue
        schema = generator.create_view(callback, method).schema
        responses = schema.get_response_serializers()
        if not isinstance(responses, dict):
            raise ShapeError(f"{method} {path}: the view declares no responses (`@extend_schema`)")
        # A (status, media type) key declares a body that is not JSON (a CSV export): nothing to check.
        declared[(callback.cls, method.upper())] = {
            int(status[0]) if isinstance(status, tuple) else int(status): (
                None
                if isinstance(status, tuple) and status[1] != "application/json"
                else getattr(response, "response", response)
            )
            for status, response in responses.items()
        }
    return declared


def _outside_json_api(path: str) -> bool:
    return not path.startswith("/api/") or path.startswith(("/api/schema/", "/api/docs/"))


def response_declaration(method: str, path: str, status: int) -> type | None:
    """The declaration of the body `method path` answers with `status`; None for a path outside the JSON API."""
    path = urlsplit(path).path
    if _outside_json_api(path):
        return None
    try:
        match = resolve(path)
    except Resolver404:
        return rest.Error if status >= 400 else None
    view = getattr(match.func, "cls", None)
    operation = (view, method.upper())
    if operation not in _declared_responses():
        if status >= 400:
            return rest.Error  # not an operation of the API (405, or the catch-all's 404)
        raise ShapeError(f"{method} {path} answered {status}, but the API has no such operation")
    declared = _declared_responses()[operation]
    if status in declared:
        return declared[status]
    # An error status the operation does not document is as wrong as an undeclared field.
    raise ShapeError(f"{method} {path} answered {status}, a status its view does not declare")


def check_body(method: str, path: str, status: int, body) -> None:
    """Check a REST response body (already decoded) against its declaration."""
    declaration = response_declaration(method, path, status)
    if declaration is not None:
        check(declaration, body, f"{method} {path} {status}")


def check_response(response) -> None:
    """Check a Django test client's response (APIClient) against its declaration."""
    request = response.wsgi_request
    if not response.get("Content-Type", "").startswith("application/json"):
        declaration = response_declaration(request.method, request.path, response.status_code)
        if declaration is not None and response.status_code != 204:
            raise ShapeError(f"{request.method} {request.path}: {response['Content-Type']} is not JSON")
        return
    check_body(request.method, request.path, response.status_code, json.loads(response.content))


# --- Sockets ------------------------------------------------------------------------------------


def socket_of(path: str) -> str:
    """ "proctor", "waiting" or "student", from a socket's path."""
    path = urlsplit(path).path
    if path.startswith("/ws/proctor/"):
        return "proctor"
    return "waiting" if path.startswith("/ws/exams/") else "student"


def check_frame(socket: str, frame) -> dict:
    """Check a frame a socket ("student" or "proctor") received; returns it."""
    where = f"{socket} frame {frame.get('type') if isinstance(frame, dict) else frame!r}"
    if not isinstance(frame, dict):
        raise ShapeError(f"{where}: a frame is a JSON object")
    declaration = frames.frame_declaration(socket, frame)
    if declaration is None:
        raise ShapeError(f"{where}: no {socket} frame of this type is declared")
    check(declaration, frame, where)
    return frame


def check_text(path: str, text: str) -> dict:
    """Decode and check a text frame received on the socket at `path`; returns the frame."""
    return check_frame(socket_of(path), json.loads(text))


def check_event(event) -> list:
    """Check a fan-out event (exams/delivery.py) as received from the channel layer: its frame
    is for a student's sockets (TO_ATTEMPT, or all of an exam's: TO_EXAM_STUDENTS) or an exam's
    proctors (TO_EXAM); a waiting room's signal (TO_WAITING) is one of the signals notifications.py declares;
    a request for proctor rows (TO_EXAM_ROWS) names an attempt event and the attempts."""
    from exams.contract.frames import ATTEMPT_EVENTS
    from exams.delivery import TO_ATTEMPT, TO_EXAM, TO_EXAM_ROWS, TO_EXAM_STUDENTS, TO_WAITING
    from exams.notifications import ROOM_CHANGED, STARTING

    target, _, frame = event
    if target == TO_WAITING:
        if not isinstance(frame, dict) or frame.get("type") not in (STARTING, ROOM_CHANGED):
            raise ShapeError(f"unknown waiting-room signal {frame!r}")
        return event
    if target == TO_EXAM_ROWS:
        if not (
            isinstance(frame, dict)
            and set(frame) == {"kind", "attempt_ids"}
            and frame["kind"] in ATTEMPT_EVENTS
            and frame["attempt_ids"]
            and all(type(i) is int for i in frame["attempt_ids"])
        ):
            raise ShapeError(f"malformed proctor rows request {frame!r}")
        return event
    if target not in (TO_ATTEMPT, TO_EXAM, TO_EXAM_STUDENTS):
        raise ShapeError(f"event for an unknown target {target!r}")
    check_frame("proctor" if target == TO_EXAM else "student", frame)
    return event
