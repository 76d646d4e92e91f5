"""Client input (exams/contract/parsing.py): socket messages and REST bodies, bounded and validated
by the same declarations, refused with the same codes."""

import io
import json

import pytest
from django.test import override_settings

from exams.api.parsers import BoundedJSONParser
from exams.contract import frames, limits
from exams.contract.parsing import BadInput, nesting, parse_client_message, parse_json

STUDENT, PROCTOR = frames.STUDENT_MESSAGES, frames.PROCTOR_MESSAGES


def refused(text, *, allowed=STUDENT, data=None) -> tuple[str, object]:
    with pytest.raises(BadInput) as info:
        parse_client_message(text, data, allowed=allowed)
    return info.value.code, info.value.request_id


@pytest.mark.parametrize(
    ("text", "code", "request_id"),
    [
        ("not json", "malformed_json", None),
        ('{"type": "answer",', "malformed_json", None),
        ("[1, 2]", "invalid", None),
        ('"answer"', "invalid", None),
        ("{}", "unknown_type", None),
        ('{"type": ["answer"]}', "unknown_type", None),
        ('{"type": "extend", "attempt_id": 1, "seconds": 5, "request_id": "x1"}', "unknown_type", "x1"),
        ('{"type": "dance", "request_id": 3}', "unknown_type", 3),
        ('{"type": "answer", "request_id": "m"}', "invalid", "m"),
        ('{"type": "answer", "question_id": "1", "selected_option": "A", "request_id": "s"}', "invalid", "s"),
        ('{"type": "answer", "question_id": true, "selected_option": "A"}', "invalid", None),
        ('{"type": "answer", "question_id": -4, "selected_option": "A"}', "invalid", None),
        ('{"type": "answer", "question_id": 1.5, "selected_option": "A"}', "invalid", None),
        ('{"type": "answer", "question_id": 1.0, "selected_option": "A"}', "invalid", None),
        ('{"type": "answer", "question_id": 1, "selected_option": 1}', "invalid", None),
        ('{"type": "answer", "question_id": 1, "selected_option": ""}', "invalid", None),
        ('{"type": "answer", "question_id": 1, "selected_option": "ABCDEFGHI"}', "invalid", None),
        ('{"type": "submit", "request_id": {"nested": 1}}', "invalid", None),
        ('{"type": "submit", "request_id": true}', "invalid", None),
        ('{"type": "submit", "request_id": "' + "r" * (limits.MAX_REQUEST_ID_LENGTH + 1) + '"}', "invalid", None),
        ('{"type": "submit", "x": [[[[[1]]]]]}', "invalid", None),
    ],
)
def test_bad_student_messages(text, code, request_id):
    assert refused(text) == (code, request_id)


def test_a_binary_frame_is_not_json():
    assert refused(None, data=b"\x00binary") == ("unsupported_media_type", None)


@override_settings(EXAM={"WS_MAX_MESSAGE_BYTES": 64})
def test_the_size_limit_counts_bytes():
    assert refused(json.dumps({"type": "submit", "pad": "x" * 64})) == ("message_too_large", None)
    # 20 two-byte characters: 40 bytes of text in 20 characters, then 33 more bytes of JSON.
    assert refused(json.dumps({"type": "submit", "p": "é" * 20}, ensure_ascii=False)) == ("message_too_large", None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{"type": "answer", "question_id": 3, "selected_option": "B"}',
            {"type": "answer", "question_id": 3, "selected_option": "B"},
        ),
        (
            '{"type": "answer", "question_id": 3, "selected_option": " B", "extra": 1}',
            {"type": "answer", "question_id": 3, "selected_option": " B"},
        ),
        ('{"type": "submit", "request_id": "abc"}', {"type": "submit", "request_id": "abc"}),
        ('{"type": "submit", "request_id": 7}', {"type": "submit", "request_id": 7}),
        ('{"type": "submit", "request_id": null}', {"type": "submit"}),
    ],
)
def test_good_student_messages(text, expected):
    assert parse_client_message(text, None, allowed=STUDENT) == expected


def test_proctor_messages():
    text = json.dumps({"type": "extend", "attempt_id": 4, "seconds": limits.MAX_EXTEND_SECONDS, "request_id": "p1"})
    assert parse_client_message(text, None, allowed=PROCTOR) == {
        "type": "extend",
        "attempt_id": 4,
        "seconds": limits.MAX_EXTEND_SECONDS,
        "request_id": "p1",
    }
    too_long = json.dumps({"type": "extend", "attempt_id": 4, "seconds": limits.MAX_EXTEND_SECONDS + 1})
    assert refused(too_long, allowed=PROCTOR) == ("invalid", None)
    assert refused('{"type": "force_submit"}', allowed=PROCTOR) == ("invalid", None)
    assert refused('{"type": "answer", "question_id": 1, "selected_option": "A"}', allowed=PROCTOR)[0] == "unknown_type"


def test_the_message_names_the_bad_field():
    with pytest.raises(BadInput) as info:
        parse_client_message('{"type": "extend", "attempt_id": 4, "seconds": 0}', None, allowed=PROCTOR)
    assert info.value.message.startswith("seconds: ")
    assert info.value.status == 400


def test_nesting_counts_brackets_outside_strings():
    assert nesting('{"a": [1, {"b": 2}]}') == 3
    assert nesting('{"a": "[[[[[[", "b": "\\"[[["}') == 1
    assert nesting("[]" * 100) == 1


def test_parse_json_refuses_deep_nesting_before_parsing():
    deep = "[" * 50_000 + "]" * 50_000
    with override_settings(EXAM={"WS_MAX_MESSAGE_BYTES": 200_000}), pytest.raises(BadInput) as info:
        parse_json(deep)
    assert info.value.code == "invalid"


# --- The REST parser: the same limits and codes ------------------------------------------------


def parse_body(raw: bytes):
    return BoundedJSONParser().parse(io.BytesIO(raw), "application/json", {"encoding": "utf-8"})


def test_rest_bodies_are_bounded_like_socket_messages():
    assert parse_body(b'{"seconds": 30}') == {"seconds": 30}
    cases = [
        (b"{oops", "malformed_json", 400),
        (b"\xff\xfe", "malformed_json", 400),
        (b'{"a": [[[[1]]]]}', "invalid", 400),
        (b'{"pad": "' + b"x" * limits.max_message_bytes() + b'"}', "message_too_large", 413),
    ]
    for raw, code, status in cases:
        with pytest.raises(BadInput) as info:
            parse_body(raw)
        assert (info.value.code, info.value.status) == (code, status), raw[:20]
