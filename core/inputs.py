"""Reading what a partner sends: the request's size bounds, the body (JSON, or a form where upstream
declares one), integers in query strings, and the input fields the API's serializers share."""

import io
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.exceptions import TooManyFieldsSent, TooManyFilesSent
from django.core.validators import RegexValidator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils.http import parse_header_parameters
from rest_framework import parsers, serializers
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.request import Request

from core.errors import ValidationFailed
from core.ids import KSUID_RE
from core.problems import problem_response

# The API's bodies are flat objects (a list of event names is the deepest thing in them). Python's json
# module recurses once per level and dies with RecursionError near a thousand; refuse long before.
MAX_JSON_DEPTH = 32
# A JSON string (skipped whole, brackets in it do not count) or one bracket.
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_OPENERS = frozenset(b"[{")
_ASCII_INT = re.compile(r"[0-9]{1,18}")


# --- The request's bounds, before anything reads it -------------------------------------------------
# The inbound partner webhook's paths (their body bound is ZUPY_MAX_INBOUND_BODY_BYTES).
INBOUND_PREFIX = "/api/v2/webhooks/integrations/"


class BodySizeLimitMiddleware:
    """413 before anything reads a body larger than ZUPY_MAX_BODY_BYTES (DRF's JSON parser reads the
    stream itself, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE alone would not stop it)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.META.get("HTTP_TRANSFER_ENCODING") and not request.META.get("CONTENT_LENGTH"):
            # Django reads a body by its Content-Length only: a chunked body (gunicorn facing clients,
            # scripts/serve) would read as empty and a redeem would go on without its options. Refuse
            # it rather than act on a body we did not read. (nginx in compose sends a length upstream.)
            detail = "Send the body with a Content-Length header; chunked request bodies are not supported."
            return problem_response(411, instance=request.path, detail=detail)
        # The admin's forms upload images (a wallet design's logo), the inbound partner webhook takes
        # batches of orders: their own, larger bounds.
        path = request.path_info
        if path.startswith("/admin/"):
            limit = settings.ZUPY_MAX_ADMIN_BODY_BYTES
        elif path.startswith(INBOUND_PREFIX):
            limit = settings.ZUPY_MAX_INBOUND_BODY_BYTES
        else:
            limit = settings.ZUPY_MAX_BODY_BYTES
        if content_length_exceeds(request.META.get("CONTENT_LENGTH") or "", limit):
            detail = f"The body may be at most {limit} bytes."
            return problem_response(413, instance=request.path, detail=detail)
        return self.get_response(request)


def content_length_exceeds(raw: str, limit: int) -> bool:
    """Whether a Content-Length of ASCII digits (int() reads "٣" as 3; anything else is refused as
    malformed elsewhere) is over ``limit``, however many leading zeros pad it: the WSGI server reads
    ``000000000000000000002000024`` as 2000024, so this must too."""
    if not (raw.isascii() and raw.isdigit()):
        return False
    significant = raw.lstrip("0")
    return len(significant) > 18 or int(significant or "0") > limit


class RequestBoundsMiddleware:
    """The request's own size bounds, answered as problem+json: request line over
    ZUPY_MAX_REQUEST_LINE -> 414, a header line over ZUPY_MAX_HEADER_BYTES or more than ZUPY_MAX_HEADERS
    headers -> 431, a Content-Length that is not a number -> 400. gunicorn.conf.py sets gunicorn's own
    limits above these so such requests get here instead of gunicorn's HTML page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = self._refusal(request)
        if refusal is not None:
            status, detail = refusal
            return problem_response(status, instance=request.path[:200], detail=detail)
        return self.get_response(request)

    @staticmethod
    def _refusal(request: HttpRequest) -> tuple[int, str] | None:
        meta = request.META
        # gunicorn passes the target as it was sent; other servers give path and query apart.
        target = meta.get("RAW_URI") or request.get_full_path()
        line = f"{request.method} {target} {meta.get('SERVER_PROTOCOL', 'HTTP/1.1')}"
        if len(line) > settings.ZUPY_MAX_REQUEST_LINE:
            return 414, f"The request line may be at most {settings.ZUPY_MAX_REQUEST_LINE} bytes."
        headers = [
            (name, value)
            for name, value in meta.items()
            if name.startswith("HTTP_") or name in ("CONTENT_TYPE", "CONTENT_LENGTH")
        ]
        if len(headers) > settings.ZUPY_MAX_HEADERS:
            return 431, f"At most {settings.ZUPY_MAX_HEADERS} request headers are accepted."
        for name, value in headers:
            # "Name: value" as sent; the WSGI name is as long as the header's.
            if len(name.removeprefix("HTTP_")) + 2 + len(str(value)) > settings.ZUPY_MAX_HEADER_BYTES:
                return 431, f"A request header line may be at most {settings.ZUPY_MAX_HEADER_BYTES} bytes."
        length = meta.get("CONTENT_LENGTH") or ""
        if length and not length.isdigit():
            return 400, "Content-Length must be a decimal number of bytes."
        return None


# --- The body ----------------------------------------------------------------------------------------
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


class FormBody(dict[str, Any]):
    """A form body's fields (urlencoded or multipart), one value per key, or a list for a key sent more
    than once. Its own type so that ``Input`` knows to check the keys against the operation's fields and
    to read a form's text as the JSON values those fields take."""


def _form_pairs(pairs: list[tuple[str, str]]) -> FormBody:
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return FormBody((key, values[0] if len(values) == 1 else values) for key, values in grouped.items())


def _form_body(data: QueryDict) -> FormBody:
    return _form_pairs([(key, value) for key, values in data.lists() for value in values])


# A multipart part's header that re-encodes its text (base64, quoted-printable); 7bit/8bit/binary do not.
_TRANSFER_ENCODED = re.compile(rb"(?im)^content-transfer-encoding:(?![ \t]*(?:7bit|8bit|binary)[ \t]*\r?$)")


def _encoding(parser_context: Any) -> str:
    return (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET


def _too_many_fields() -> ParseError:
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    return ParseError(f"A form body may have at most {limit} fields; send fewer, or JSON.")


def _not_text(encoding: str) -> ParseError:
    return ParseError(f"The form body is not valid {encoding} text.")


class FormParser(parsers.FormParser):
    """application/x-www-form-urlencoded, which upstream declares for its writes.

    Read strictly, as the JSON parser reads: a byte (or a %-escape) that is not text in the body's
    charset is a 400, not a U+FFFD stored in its place (Django's QueryDict would replace it), and
    too many fields is the same 400 problem as any other malformed body."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = _encoding(parser_context)
        raw = stream.read() if stream is not None else b""
        try:
            pairs = parse_qsl(
                raw.decode(encoding),
                keep_blank_values=True,
                encoding=encoding,
                errors="strict",
                max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
            )
        except (UnicodeDecodeError, LookupError) as exc:
            raise _not_text(encoding) from exc
        except ValueError as exc:  # parse_qsl's "Max number of fields exceeded"
            raise _too_many_fields() from exc
        return _form_pairs(pairs)


class MultiPartParser(parsers.MultiPartParser):
    """multipart/form-data, which upstream declares for its writes. No operation takes a file: a body
    that carries one is refused rather than read without it. Django's parser is lenient where a
    partner's mistake must be a 400: a body cut off before its closing boundary (it would read the
    parts it got), text that is not valid in the charset (it would store U+FFFD) and too many
    fields (a 400 without the problem's code); its text is read as UTF-8 (or the request's charset),
    strictly, and a part that re-encodes it (Content-Transfer-Encoding) is refused."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = _encoding(parser_context)
        raw = stream.read() if stream is not None else b""
        try:
            parsed = super().parse(io.BytesIO(raw), media_type, parser_context)
        except (TooManyFieldsSent, TooManyFilesSent) as exc:
            raise _too_many_fields() from exc
        if parsed.files:
            names = ", ".join(sorted(parsed.files)[:5])
            raise ParseError(f"No operation takes a file; send {names} as a plain field, or as JSON.")
        delimiter = b"--" + parse_header_parameters(media_type or "")[1].get("boundary", "").encode(
            "ascii", "replace"
        )
        if delimiter + b"--" not in raw:
            raise ParseError("The multipart body ends before its closing boundary: it was cut off.")
        parts = raw.split(delimiter)[1:]
        for part in parts:
            if part.startswith(b"--"):
                break  # the closing delimiter
            head, blank, _ = part.partition(b"\r\n\r\n")
            if not (part.startswith(b"\r\n") and part.endswith(b"\r\n") and blank):
                # Django reads such a part as nothing: the fields in it would be silently dropped.
                raise ParseError(
                    "A part of the multipart body is malformed: each needs its headers, a blank line, "
                    "then its value, and a line break before the next boundary."
                )
            if b"content-disposition" not in head.lower():
                raise ParseError("A part of the multipart body has no Content-Disposition naming its field.")
        if any(_TRANSFER_ENCODED.search(part.split(b"\r\n\r\n", 1)[0]) for part in parts):
            # RFC 7578 forbids it, and Django would decode base64 text without checking it.
            raise ParseError("A part with a Content-Transfer-Encoding: send each field's text as it is.")
        try:
            raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise _not_text(encoding) from exc
        return _form_body(parsed.data)


class FormKeysUnknown(UnsupportedMediaType):
    """A form body whose keys are not the operation's fields: most often JSON sent without a
    Content-Type (``curl -d '{"use_z_tokens": true}'``), which arrives as a form with one key that is
    the JSON text. Reading it as a form would drop every option in it, so it is the same 415 as a body
    of a type the API does not read."""

    def __init__(self, media_type: str, unknown: list[str]) -> None:
        super().__init__(media_type)
        self.unknown_keys = unknown


def json_object(request: Request) -> dict[str, Any]:
    """The request body, which must be a JSON object (an empty body counts as ``{}``).

    A body without Content-Type is a 415: DRF would read it as no body at all, and the partner would
    get a 422 about missing fields that are right there in what they sent."""
    if not request.content_type and request.stream is not None:
        raise UnsupportedMediaType(media_type="")
    data = request.data
    if not isinstance(data, dict):
        raise ValidationFailed(
            "The body must be a JSON object.", errors=[{"field": "body", "detail": "Expected a JSON object."}]
        )
    return data


# --- Input serializers -------------------------------------------------------------------------------
def _is_blank(value: object) -> bool:
    return isinstance(value, str) and not value.strip()


# The fields a form's text is read into as a number.
NUMBER_FIELDS = (serializers.IntegerField, serializers.DecimalField, serializers.FloatField)


# Base of every input serializer, bodies and query strings alike. (A comment, not a docstring:
# drf-spectacular would print a base's docstring as every subclass's schema description.)
#
# Tolerant where integrators are sloppy: an empty (or all-blank) string for an optional field means "not
# given", so the field's default applies (the partner collection enrols with ``"email": ""``; a POS sends
# ``?customer_id=``). A field that declares ``allow_blank`` takes ``""`` as a value of its own
# (``"webhook_url": ""`` turns webhooks off). A required field stays required: ``""`` there is a 422, as
# is any amount that is not a number.
#
# A form body (``FormBody``) must name only the operation's fields, else it is a 415 (see
# ``FormKeysUnknown``); its text values are read as JSON would give them: "true"/"false" for a boolean,
# a key sent once for a list field is a list of one, a key sent twice for any other field is a 422.
class Input(serializers.Serializer):
    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, FormBody):
            data = self._from_form(data)
        if isinstance(data, Mapping):
            blank = {
                name
                for name, field in self.fields.items()
                if not field.required
                and not getattr(field, "allow_blank", False)
                and _is_blank(data.get(name))
            }
            if blank:
                data = _without(data, blank)
        return super().to_internal_value(data)

    def _from_form(self, data: FormBody) -> dict[str, Any]:
        unknown = sorted(key for key in data if key not in self.fields)
        if unknown:
            raise FormKeysUnknown("form", unknown)
        values: dict[str, Any] = {}
        repeated: dict[str, list[str]] = {}
        padded: dict[str, list[str]] = {}
        for name, value in data.items():
            field = self.fields[name]
            if isinstance(field, serializers.ListField | serializers.MultipleChoiceField):
                values[name] = value if isinstance(value, list) else [value]
            elif isinstance(value, list):
                repeated[name] = ["Given more than once; send one value."]
            elif isinstance(field, serializers.BooleanField) and value.strip().lower() in ("true", "false"):
                values[name] = value.strip().lower() == "true"
            elif isinstance(field, NUMBER_FIELDS) and value.strip() and value != value.strip():
                # In an urlencoded body "+" is a space: amount=+10 arrives as " 10". JSON refuses
                # "+10", so the form must not read it as 10.
                padded[name] = ['A number without spaces around it (in a urlencoded form, "+" is a space).']
            else:
                values[name] = value
        if repeated or padded:
            raise serializers.ValidationError({**padded, **repeated})
        return values


def _without(data: Mapping[str, Any], names: set[str]) -> Mapping[str, Any]:
    if isinstance(data, QueryDict):  # keeps its lists: a serializer reads a QueryDict field by field
        kept = data.copy()
        for name in names:
            del kept[name]
        return kept
    return {key: value for key, value in data.items() if key not in names}


class AnyCaseChoiceField(serializers.ChoiceField):
    """An enum: ``status=ACTIVE`` is ``active`` (POS systems send what their UI shows), and the
    blanks around it are dropped as a CharField drops them (``" Apple "`` is ``apple``, as a padded
    ``customer_id`` is that id). A value that is none of them is refused with the list of those
    that are: a partner who sent the word another answer uses (``validated``) learns the one this
    filter takes."""

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data.strip().lower() if isinstance(data, str) else data)
        except serializers.ValidationError:
            choices = ", ".join(str(choice) for choice in self.choices)
            raise serializers.ValidationError(
                f'"{str(data)[:40]}" is not one of: {choices}.', code="invalid_choice"
            ) from None


# --- Values ------------------------------------------------------------------------------------------
def ascii_int(raw: str) -> int | None:
    """``raw`` as a non-negative integer if it is ASCII digits only, else None.

    ``str.isdigit`` and ``int`` accept far more than 0-9: ``"²".isdigit()`` is true and ``int("²")``
    raises; ``int("٣")`` is 3. What partners send is read as ASCII or refused."""
    return int(raw) if _ASCII_INT.fullmatch(raw) else None


ksuid_validator = RegexValidator(KSUID_RE, "Must be a KSUID (27 letters and digits).")


class KsuidField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 27)
        kwargs.setdefault("min_length", 27)
        super().__init__(**kwargs)
        self.validators.append(ksuid_validator)


class AsciiIntegerField(serializers.IntegerField):
    """DRF's IntegerField, but a string of digits must be ASCII digits (DRF's ``int()`` reads "٣" as 3)."""

    def to_internal_value(self, data: object) -> int:
        if not isinstance(data, str | int | float):  # what DRF's int(str(data)) would refuse as well
            self.fail("invalid")
        if isinstance(data, str) and ascii_int(data.strip().lstrip("-")) is None:
            self.fail("invalid")
        return int(super().to_internal_value(data))


class StrictBooleanField(serializers.BooleanField):
    """A query-string boolean: true/false in any case (like the enums), or 1/0; anything else
    (yes, on, an empty string given for a required one) is a 422."""

    TRUE_VALUES = {True, "true", "1"}
    FALSE_VALUES = {False, "false", "0"}

    def to_internal_value(self, data: Any) -> bool:
        return bool(super().to_internal_value(data.lower() if isinstance(data, str) else data))


class JsonBooleanField(serializers.BooleanField):
    """A body field: JSON true or false, nothing else (not "true", not 1)."""

    def to_internal_value(self, data: object) -> bool:
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)
        raise AssertionError("unreachable")


class JsonStringField(serializers.CharField):
    """A body field: a JSON string, nothing else (DRF's CharField takes 12 as "12")."""

    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


class JsonObjectField(serializers.DictField):
    """A body field kept as JSON (a JSONField): a JSON object whose strings hold no NUL, which
    PostgreSQL's jsonb cannot store."""

    default_error_messages = {"nul": "Text in this object may not contain NUL characters."}

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value = super().to_internal_value(data)
        if _has_nul(value):
            self.fail("nul")
        return dict(value)
