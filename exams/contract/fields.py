"""The field types the declarations are written in: strict JSON types, so that the same bad
input is refused the same way over REST and over a socket."""

import re

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from .limits import MAX_OPTION_LENGTH, MAX_REQUEST_ID_LENGTH

# JSON Schema (ECMA 262) and Python read this alike: any text without U+0000.
NO_NUL = "^[^\\u0000]*$"
NO_NUL_SOME = "^[^\\u0000]+$"
# Text with a character to see: one that is whitespace neither to Python (str.isspace: also
# U+001C-U+001F, U+0085) nor to JSON Schema's ECMA 262 `\\s` (also U+FEFF).
_SEEN = "[^\\s\\u0000\\u001c-\\u001f\\u0085\\ufeff]"
VISIBLE = f"^[^\\u0000]*{_SEEN}[^\\u0000]*$"
_VISIBLE = re.compile(VISIBLE, re.DOTALL)


def has_visible(text: str) -> bool:
    """The rule of VISIBLE: the text holds a character to see, and no NUL."""
    return _VISIBLE.match(text) is not None


# The largest id either database stores (a signed 64-bit integer): a larger one is no id at all, and
# SQLite's driver raises on it rather than finding nothing.
MAX_ID = 2**63 - 1


class Id(serializers.IntegerField):
    """A JSON integer from 1 to MAX_ID (not a string of digits, not a boolean, not 1.0)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class Flag(serializers.BooleanField):
    """A JSON boolean (not "true", not 1)."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class Text(serializers.CharField):
    """A JSON string, taken as sent (no number turned into text, no whitespace trimmed); never empty
    unless `allow_blank`; with `visible`, never only whitespace."""

    def __init__(self, *, visible: bool = False, **kwargs) -> None:
        self.visible = visible  # must hold a character to see (has_visible), not only whitespace
        kwargs.setdefault("trim_whitespace", False)
        if not kwargs.get("allow_blank", False):
            # The schema says so too (minLength 1): DRF refuses "" but its schema would allow it.
            kwargs.setdefault("min_length", 1)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if self.visible and not has_visible(value):
            self.fail("blank")
        return value


class TextSchema(OpenApiSerializerFieldExtension):
    """A Text in the schema: no NUL character, which DRF refuses in any string (ProhibitNullCharactersValidator)."""

    target_class = Text
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction) -> dict:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        # With allow_blank, drf-spectacular offers "" as a oneOf branch of its own: the pattern then
        # asks for one character or more, so that "" matches that branch only.
        if self.target.visible:
            return {**schema, "pattern": VISIBLE}
        return {**schema, "pattern": NO_NUL_SOME if self.target.allow_blank else NO_NUL}


def option(**kwargs) -> Text:
    """An option key such as "A"."""
    return Text(max_length=MAX_OPTION_LENGTH, **kwargs)


class Timestamp(serializers.DateTimeField):
    """An instant, ISO 8601 in UTC with milliseconds: 2026-11-24T17:04:05.123Z."""


def kind(*values: str, **kwargs) -> serializers.ChoiceField:
    """A message's `type` (or an ack's `action`): one of `values`."""
    return serializers.ChoiceField(choices=list(values), **kwargs)


class RequestId(serializers.Field):
    """A client's request id, a string or an integer, echoed in the reply."""

    default_error_messages = {
        "invalid": f"Must be a string or an integer of at most {MAX_REQUEST_ID_LENGTH} characters."
    }

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "A client's id for its message, echoed in the reply to it.")
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (str, int)) or len(str(data)) > MAX_REQUEST_ID_LENGTH:
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


class RequestIdSchema(OpenApiSerializerFieldExtension):
    target_class = RequestId

    def map_serializer_field(self, auto_schema, direction) -> dict:
        return {"oneOf": [{"type": "string", "maxLength": MAX_REQUEST_ID_LENGTH}, {"type": "integer"}]}


class CompactRows(serializers.ListField):
    """Many objects of one declaration, sent compactly: each a list of its field values in the order
    of the frame's `columns` (which names `row`'s fields). A 50,000-row proctor snapshot is a
    third of its size as objects, and decodes back to them (`snapshotRows` in contract.js)."""

    def __init__(self, *, row: type[serializers.Serializer], **kwargs) -> None:
        self.row = row
        kwargs.setdefault("child", serializers.ListField(child=serializers.JSONField()))
        super().__init__(**kwargs)


class CompactRowsSchema(OpenApiSerializerFieldExtension):
    target_class = CompactRows

    def map_serializer_field(self, auto_schema, direction):
        # A row is a JSON array of values of any type: its meaning is in the frame's `columns`.
        return {"type": "array", "items": {"type": "array", "items": {}}}
