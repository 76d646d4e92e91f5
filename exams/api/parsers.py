"""The REST API's JSON parser: bodies bounded like socket messages (exams/contract/parsing.py)."""

from django.conf import settings
from rest_framework.parsers import BaseParser, JSONParser

from exams.contract import codes
from exams.contract.limits import MAX_ENROLL_CSV_BYTES, max_message_bytes
from exams.contract.parsing import BadInput, parse_json


class BoundedJSONParser(JSONParser):
    """JSON bodies within the contract's size and nesting limits, refused with its error codes."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = max_message_bytes()
        raw = stream.read(limit + 1)  # no more than needed to know it is too large
        if len(raw) > limit:
            raise BadInput(codes.MESSAGE_TOO_LARGE, f"Messages are limited to {limit} bytes.")
        try:
            text = raw.decode((parser_context or {}).get("encoding", settings.DEFAULT_CHARSET))
        except UnicodeDecodeError:
            raise BadInput(codes.MALFORMED_JSON, "The message is not valid JSON.") from None
        return parse_json(text, size=len(raw))


class BoundedCSVParser(BaseParser):
    """A `text/csv` body (an enrollment import), UTF-8, up to MAX_ENROLL_CSV_BYTES, as text."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read(MAX_ENROLL_CSV_BYTES + 1)
        if len(raw) > MAX_ENROLL_CSV_BYTES:
            raise BadInput(codes.MESSAGE_TOO_LARGE, f"A CSV upload is limited to {MAX_ENROLL_CSV_BYTES} bytes.")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadInput(codes.INVALID, "The CSV is not UTF-8 text.") from None
        return text
