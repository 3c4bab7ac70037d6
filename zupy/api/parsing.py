"""Reading what a partner sends: the JSON body and integers in query strings."""

import io
import re
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.request import Request

from zupy.errors import ValidationFailed

# The API's bodies are flat objects (a list of event names is the deepest thing in them). Python's json
# module recurses once per level and dies with RecursionError near a thousand; refuse long before.
MAX_JSON_DEPTH = 32
# A JSON string (skipped whole, brackets in it do not count) or one bracket.
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_OPENERS = frozenset(b"[{")
_ASCII_INT = re.compile(r"[0-9]{1,18}")


def json_depth_exceeds(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether brackets in ``raw`` nest deeper than ``limit``; stops at the first level past it."""
    depth = 0
    for match in _JSON_TOKEN.finditer(raw):
        char = match.group()[0]
        if char in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        elif char != ord('"'):
            depth -= 1
    return False


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with a nesting limit checked before parsing: ``[`` x 30000 is a 400, not a
    RecursionError (a 500) after the parser has recursed as deep as the interpreter allows."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = stream.read() if stream is not None else b""
        if json_depth_exceeds(raw):
            raise ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.")
        return super().parse(io.BytesIO(raw), media_type, parser_context)


def ascii_int(raw: str) -> int | None:
    """``raw`` as a non-negative integer if it is ASCII digits only, else None.

    ``str.isdigit`` and ``int`` accept far more than 0-9: ``"²".isdigit()`` is true and ``int("²")``
    raises; ``int("٣")`` is 3. What partners send is read as ASCII or refused."""
    return int(raw) if _ASCII_INT.fullmatch(raw) else None


def json_object(request: Request) -> dict[str, Any]:
    """The request body, which must be a JSON object (an empty body counts as ``{}``)."""
    data = request.data
    if not isinstance(data, dict):
        raise ValidationFailed(
            "The body must be a JSON object.", errors=[{"field": "body", "detail": "Expected a JSON object."}]
        )
    return data
