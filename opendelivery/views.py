"""The base every OpenDelivery view subclasses, and the standard's page.

``OdView``: the bearer token, its scope, the merchant the request targets (``request.user`` is an
``OdCaller``), the client's rate limit with its X-RateLimit-* headers, JSON in and out (no envelope),
and every error as the standard's ``{code, message, details}``. A subclass names the operations it
serves (``operations = {"get": "listLoyaltyRewards"}``): the discovery manifest lists exactly the
operations that are routed, read from the views themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar

from django.db.models import QuerySet
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from core.inputs import JSONParser
from core.views import RateLimitHeaders
from opendelivery.auth import (
    OdBearerAuthentication,
    OdCaller,
    OdClientCaller,
    spend_anonymous,
    spend_client,
)
from opendelivery.errors import OdBadRequest, OdUnauthorized, od_exception_handler


class OdJSONRenderer(JSONRenderer):
    """Plain JSON, the standard's bodies as they are."""


class OdView(RateLimitHeaders, APIView):
    """Base of every OpenDelivery operation that targets one merchant."""

    authentication_classes = [OdBearerAuthentication]
    permission_classes = []
    throttle_classes = []
    parser_classes = [JSONParser]
    renderer_classes = [OdJSONRenderer]
    # Not in our OpenAPI document (which is /api/v2's): the standard's documents describe this surface.
    schema = None
    # The operationId each method serves, as the standard's documents name them.
    operations: ClassVar[dict[str, str]] = {}
    # Whether a by_app token must name a merchant (X-App-MerchantId or ?storeId=).
    merchant_required: ClassVar[bool] = True

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Any]:
        return od_exception_handler

    def perform_authentication(self, request: Request) -> None:
        """A token or a 401; a request without a usable token is counted against its address first
        (429 when that budget is used up), as on /api/v2."""
        try:
            user = request.user
        except OdUnauthorized:
            request._not_authenticated()  # type: ignore[attr-defined]  # as DRF does for its own errors
            spend_anonymous(request)
            raise
        if not isinstance(user, (OdCaller, OdClientCaller)):
            spend_anonymous(request)
            raise OdUnauthorized()

    def check_throttles(self, request: Request) -> None:
        spend_client(request, self)


class OdMerchantlessView(OdView):
    """For listMerchants only: a by_app token may name no merchant (``request.user`` is then an
    ``OdClientCaller``; naming one still checks it)."""

    merchant_required = False


# --- The standard's page ----------------------------------------------------------------------------
# components.parameters.page / pageSize of customer.openapi.yaml.
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

T = TypeVar("T")


def _positive(request: Request, name: str, default: int, maximum: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9 or int(text) < 1:
        bound = f" from 1 to {maximum}" if maximum else " of 1 or more"
        raise OdBadRequest(f"{name} must be an integer{bound}.", code="INVALID_PARAMETER", details=[name])
    value = int(text)
    if maximum is not None and value > maximum:
        raise OdBadRequest(
            f"{name} must be an integer from 1 to {maximum}.", code="INVALID_PARAMETER", details=[name]
        )
    return value


def od_page(request: Request, rows: QuerySet[Any] | Sequence[T]) -> tuple[list[Any], int, int, int]:
    """``(items, page, pageSize, total)`` of ``rows`` (ordered already) for the request's ``page``
    (1-based, default 1) and ``pageSize`` (default 50, at most 500). A page past the end is empty
    with the real total; a page or pageSize that is not such an integer is 400."""
    page = _positive(request, "page", 1, None)
    size = _positive(request, "pageSize", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    total = rows.count() if isinstance(rows, QuerySet) else len(rows)
    start = (page - 1) * size
    items = list(rows[start : start + size]) if start < total else []
    return items, page, size, total


def od_page_body(items: list[Any], page: int, size: int, total: int) -> dict[str, Any]:
    """The standard's list response around rendered ``items``."""
    return {"items": items, "page": page, "pageSize": size, "total": total}
