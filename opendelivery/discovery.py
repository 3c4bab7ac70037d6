"""``GET /.well-known/opendelivery``: the discovery manifest, as ``discovery.openapi.yaml`` defines it.

Public (no token), counted against the caller's address. The customer capability declares exactly
the operations that are routed: ``supportedOperations`` is read from the URL configuration (each
``OdView`` names its ``operations``), never kept by hand, and ``unsupportedOperations`` is the rest
of the Customer document's operations."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver, get_urlconf
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.problems import problem_exception_handler
from core.views import RateLimitHeaders
from opendelivery.auth import spend_anonymous
from opendelivery.errors import discovery_shape
from opendelivery.views import OdJSONRenderer, OdView
from wallet.platforms import public_base_url

API_PREFIX = "v2"
# The operations of the Customer capability, as customer.openapi.yaml (2.0.0-rc.2) names them
# (tests/opendelivery/test_discovery.py holds this list to the vendored document).
CUSTOMER_OPERATIONS = (
    "listCustomers",
    "upsertCustomers",
    "listLeads",
    "upsertLeads",
    "listOrders",
    "upsertOrders",
    "getOrderById",
    "listReviews",
    "createReviews",
    "getReviewById",
    "listLoyaltyPrograms",
    "upsertLoyaltyPrograms",
    "getLoyaltyProgramById",
    "listCustomerLoyaltyAccounts",
    "getLoyaltyAccountById",
    "listLoyaltyTransactions",
    "listLoyaltyRewards",
    "listLoyaltyCoupons",
    "useLoyaltyCoupon",
    "createLoyaltyRedemption",
)


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def routed_operations(urlconf: str | None = None) -> dict[str, tuple[str, str, type[OdView]]]:
    """Every operation an ``OdView`` serves, by operationId: (method, route, view class)."""
    found: dict[str, tuple[str, str, type[OdView]]] = {}
    for route, pattern in _walk(get_resolver(urlconf).url_patterns):
        view = getattr(pattern.callback, "view_class", None)
        if isinstance(view, type) and issubclass(view, OdView):
            for method, operation in view.operations.items():
                found.setdefault(operation, (method, route, view))
    return found


@functools.cache
def supported_operations(urlconf: str | None = None) -> tuple[str, ...]:
    """The Customer operations this server serves, in the document's order (fixed once the URL
    configuration is loaded: computed once per process and URL configuration)."""
    routed = routed_operations(urlconf)
    return tuple(name for name in CUSTOMER_OPERATIONS if name in routed)


def manifest(request: Request) -> dict[str, Any]:
    supported = supported_operations(getattr(request._request, "urlconf", None) or get_urlconf())
    return {
        "appId": settings.OPENDELIVERY_APP_ID,
        "openDelivery": {"currentVersion": "2.0", "supportedVersions": ["2.0", "2.0.0-rc"]},
        "discovery": {"version": "1.0.0"},
        "authentication": {
            "supportedGrantTypes": ["client_credentials"],
            "clientIdGeneration": ["by_app", "by_merchant"],
        },
        "capabilities": {
            "customer": {
                "version": "1.0.0",
                "supported": True,
                "endpoint": f"{public_base_url(request._request)}/{API_PREFIX}",
                "supportedOperations": list(supported),
                "unsupportedOperations": [name for name in CUSTOMER_OPERATIONS if name not in supported],
                "supportsBatchGet": True,
                "supportsBatchPost": False,
                "maxPayloadSizeKb": max(1, settings.ZUPY_MAX_BODY_BYTES // 1024),
                "acceptedGetPeriodicity": "real_time",
            }
        },
    }


# --- Its errors: the discovery document's own ``Error`` (``discovery_shape``) ------------------------
def discovery_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    response = problem_exception_handler(exc, context)
    body, content_type = discovery_shape(response.data or {})
    answer = Response(body, status=response.status_code, content_type=content_type)
    for name, value in response.items():
        if name.lower() != "content-type":
            answer[name] = value
    return answer


class DiscoveryView(RateLimitHeaders, APIView):
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    throttle_classes: list[Any] = []
    renderer_classes = [OdJSONRenderer]
    http_method_names = ["get", "head"]
    schema = None  # the discovery document describes it, not our OpenAPI document

    def get_exception_handler(self) -> Any:
        return discovery_exception_handler

    def check_throttles(self, request: Request) -> None:
        spend_anonymous(request)

    def get(self, request: Request) -> Response:
        response = Response(manifest(request))
        response["Cache-Control"] = "public, max-age=300"
        response["Access-Control-Allow-Origin"] = "*"
        return response
