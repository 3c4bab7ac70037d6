"""Keyset (cursor) pagination over KSUID ids: constant cost at any depth, no COUNT, no OFFSET."""

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any, Literal

from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import ValidationFailed
from core.ids import is_ksuid
from core.inputs import AsciiIntegerField, Input
from core.rendering import Envelope, ResponseFormat, response_format_of

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


_RANGE = f"must be an integer from 1 to {MAX_PAGE_SIZE}."


class PageQuery(Input):
    """The paging parameters every list takes, once: what the OpenAPI document shows and what
    ``paginate`` parses. An empty value is an absent one."""

    cursor = serializers.CharField(required=False, help_text="meta.cursor of the previous page.")
    page_size = AsciiIntegerField(
        required=False, min_value=1, max_value=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE,
        error_messages=dict.fromkeys(("invalid", "min_value", "max_value", "max_string_length"), _RANGE),
    )  # fmt: skip

    def validate_cursor(self, value: str) -> str:
        """The id the cursor carries."""
        after = cursor_id(value)
        if after is None:
            raise serializers.ValidationError("is not a cursor this API issued.")
        return after


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def cursor_id(raw: str) -> str | None:
    """The id in a cursor ``encode_cursor`` made, or None."""
    try:
        value = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return value if is_ksuid(value) else None


def paginate(
    request: Request,
    queryset: QuerySet[Any],
    *,
    descending: bool,
    serialize: Callable[[Sequence[Any]], object],  # the rows as the page's JSON-able data
    root_shape: Literal["cursor", "results"] = "cursor",
) -> Response:
    """One page of ``queryset`` ordered by id, as ``{data, meta: {cursor, has_next, count}}``.

    ``count`` is null on purpose: counting a company's whole table on every page is the cost
    keyset pagination exists to avoid.

    For a ``root`` key, a list the upstream document describes as ``{count, next, previous,
    results}`` (``root_shape="results"``: points history, one customer's rows, cheap to count) is
    answered so: ``next`` is this URL with the next cursor, ``previous`` is always null (keyset
    pages go forward only; a client keeps the URLs it came from). Every other list keeps the cursor
    shape in both formats, as the document describes it.
    """
    _refuse_page_numbers(request)
    page = PageQuery(data=request.query_params)
    page.is_valid(raise_exception=True)
    size, after = page.validated_data["page_size"], page.validated_data.get("cursor")
    counted = queryset
    if after:
        queryset = queryset.filter(id__lt=after) if descending else queryset.filter(id__gt=after)
    rows = list(queryset.order_by("-id" if descending else "id")[: size + 1])
    has_next = len(rows) > size
    rows = rows[:size]
    next_cursor = encode_cursor(rows[-1].id) if has_next else None
    if root_shape == "results" and response_format_of(request) == ResponseFormat.ROOT:
        return Response(
            Envelope(
                count=counted.count(),
                next=_url_with_cursor(request, next_cursor) if next_cursor else None,
                previous=None,
                results=serialize(rows),
            )
        )
    meta = {"cursor": next_cursor, "has_next": has_next, "count": None}
    return Response(Envelope(data=serialize(rows), meta=meta))


def _refuse_page_numbers(request: Request) -> None:
    """``?page=2`` is how a page-numbered API (and the ``{count, next, previous, results}`` shape
    it comes from) is walked; these lists page by cursor only. Ignored, it would answer the first
    page again and again, which a client cannot tell from a real second page: a 422 says how to page."""
    raw = request.query_params.get("page", "").strip()
    if raw not in ("", "1"):
        detail = (
            "Pages are reached by cursor: pass the previous page's meta.cursor (a root key: follow next)."
        )
        raise ValidationFailed(errors=[{"field": "page", "detail": detail}])


def _url_with_cursor(request: Request, cursor: str) -> str:
    query = request.query_params.copy()
    query["cursor"] = cursor
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
