"""The base views every endpoint stands on: query parameters checked, POSTs made retry-safe with
Idempotency-Key, keyset pagination, and the OpenAPI parameters the views share."""

import base64
import binascii
import functools
from collections.abc import Callable, Sequence
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponseBase
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from zupy.api.auth import RateLimitHeaders
from zupy.api.inputs import ascii_int
from zupy.api.rendering import Envelope
from zupy.errors import ValidationFailed
from zupy.idempotency import HEADER, check_key, idempotent, request_fingerprint
from zupy.ids import is_ksuid

PAGE_PARAMS = frozenset({"cursor", "page_size"})


def params_of(*serializers: type[serializers.Serializer]) -> frozenset[str]:
    """The query parameter names that the given query serializers declare."""
    return frozenset(name for serializer in serializers for name in serializer().fields)


class ApiView(RateLimitHeaders, APIView):
    """Base of every API view. ``query_params`` names what a view accepts: anything else is a 422,
    so a misspelt filter (``?staus=used``) is an error, not a silently unfiltered answer."""

    query_params: frozenset[str] = frozenset()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        unknown = sorted(set(request.query_params) - self.query_params)
        if unknown:
            raise ValidationFailed(
                f"Unknown query parameter(s): {', '.join(unknown)}.",
                errors=[{"field": name, "detail": "Unknown query parameter."} for name in unknown],
            )
        # "?status=" is a mistake, not "no filter": say so rather than answer unfiltered.
        empty = sorted(name for name, value in request.query_params.items() if value == "")
        if empty:
            raise ValidationFailed(
                f"Empty query parameter(s): {', '.join(empty)}.",
                errors=[
                    {"field": name, "detail": "May not be empty; leave it out instead."} for name in empty
                ],
            )


Handler = Callable[..., HttpResponseBase]


def idempotent_post(post: Handler) -> Handler:
    """Wrap a view's ``post`` so that it honours ``Idempotency-Key`` (see ``zupy.idempotency``).

    DRF calls the handler once authentication, permissions and rate limits have passed, so a refused
    key or permission is never stored; a refusal raised by ``post`` is rendered by the view's own
    exception handler, then stored or not by ``idempotent``."""

    @functools.wraps(post)
    def wrapper(view: APIView, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        key = request.headers.get(HEADER)
        if key is None:
            return post(view, request, *args, **kwargs)

        def render(response: HttpResponseBase) -> bytes:
            response = view.finalize_response(request, response, *args, **kwargs)
            response.render()  # type: ignore[attr-defined]
            return bytes(response.content)  # type: ignore[attr-defined]

        return idempotent(
            company=request.user.company,
            key=check_key(key),
            # The raw bytes, read before DRF's parser does (DRF then parses a copy of them).
            fingerprint=request_fingerprint(request.method, request.get_full_path(), request.body),
            call=lambda: post(view, request, *args, **kwargs),
            on_refusal=view.handle_exception,
            render=render,
        )

    return wrapper


class WriteView(ApiView):
    """Base of every view with a state-changing POST: a subclass's ``post`` is wrapped with
    ``idempotent_post`` when the class is made."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "post" in cls.__dict__:
            cls.post = idempotent_post(cls.__dict__["post"])  # type: ignore[attr-defined]


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Retry-safe writes: the same key and request within 24 h replays the first answer.",
)
OTP_SESSION = OpenApiParameter(
    "X-OTP-Session",
    str,
    OpenApiParameter.HEADER,
    description="From /auth/verify-otp/; required when the company's OTP policy asks for this action.",
)


# --- Keyset (cursor) pagination over KSUID ids: constant cost at any depth, no COUNT, no OFFSET ----------
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class PageQuery(serializers.Serializer):
    """The paging parameters every list takes (documentation; ``paginate`` parses them)."""

    cursor = serializers.CharField(required=False, help_text="meta.cursor of the previous page.")
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE, default=20)


def _invalid(field: str, detail: str) -> ValidationFailed:
    return ValidationFailed(f"Invalid {field}: {detail}", errors=[{"field": field, "detail": detail}])


def page_size_from(request: Request) -> int:
    raw = request.query_params.get("page_size")
    if raw is None or raw == "":
        return DEFAULT_PAGE_SIZE
    size = ascii_int(raw)
    if size is None or not 1 <= size <= MAX_PAGE_SIZE:
        raise _invalid("page_size", f"must be an integer from 1 to {MAX_PAGE_SIZE}.")
    return size


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(raw: str) -> str:
    try:
        value = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        value = ""
    if not is_ksuid(value):
        raise _invalid("cursor", "is not a cursor this API issued.")
    return value


def paginate(
    request: Request,
    queryset: QuerySet[Any],
    *,
    descending: bool,
    serialize: Callable[[Sequence[Any]], list[dict[str, Any]]],
) -> Response:
    """One page of ``queryset`` ordered by id, as ``{data, meta: {cursor, has_next, count}}``.

    ``count`` is null on purpose: counting a company's whole table on every page is the cost
    keyset pagination exists to avoid.
    """
    size = page_size_from(request)
    cursor = request.query_params.get("cursor")
    if cursor:
        after = decode_cursor(cursor)
        queryset = queryset.filter(id__lt=after) if descending else queryset.filter(id__gt=after)
    rows = list(queryset.order_by("-id" if descending else "id")[: size + 1])
    has_next = len(rows) > size
    rows = rows[:size]
    meta = {"cursor": encode_cursor(rows[-1].id) if has_next else None, "has_next": has_next, "count": None}
    return Response(Envelope(data=serialize(rows), meta=meta))
