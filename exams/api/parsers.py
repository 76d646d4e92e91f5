"""The REST API's JSON parser: bodies bounded like socket messages (exams/contract/parsing.py)."""

from django.conf import settings
from rest_framework.parsers import JSONParser

from exams.contract import codes
from exams.contract.limits import max_message_bytes
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
