"""Who is calling the OpenDelivery surface, for which merchant, and how much.

A bearer token from ``/v2/oauth/token`` (django-oauth-toolkit's, looked up by its digest) names an
``OdClient``; the request then names the one merchant it targets: ``X-App-MerchantId`` or
``?storeId=`` (the same value when both are sent), which must be one of the client's enabled links.
A by_merchant client targets its own company whatever it sends, and naming another merchant is a
403. The client and the link are read on every request, so disabling either cuts its tokens off at
once. Rate limits are the API keys' (``companies.auth``): the targeted company's tier, one counter
per client and company; requests without a usable token count against the caller's address.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest
from oauth2_provider.oauth2_backends import get_oauthlib_core
from oauth2_provider.oauth2_validators import OAuth2Validator
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from companies.auth import Budget, anonymous_budget, tier_budget
from companies.models import Company
from opendelivery.errors import WWW_AUTHENTICATE, OdBadRequest, OdForbidden, OdRateLimited, OdUnauthorized
from opendelivery.models import ClientKind, OdClient, OdMerchantLink
from opendelivery.selectors import od_client_of_application, od_link_of

if TYPE_CHECKING:
    from oauth2_provider.models import AccessToken
    from rest_framework.views import APIView

# The scopes that reach the Customer capability: od.all is every capability's.
CUSTOMER_SCOPES = frozenset({"od.crm", "od.all"})
MERCHANT_HEADER = "X-App-MerchantId"
STORE_PARAMETER = "storeId"


@dataclass(frozen=True)
class OdCaller:
    """``request.user`` (and ``request.auth``) on every OpenDelivery view: the client, the one
    merchant this request targets, and its company, which scopes every query."""

    client: OdClient
    link: OdMerchantLink
    company: Company
    is_authenticated: bool = True

    @property
    def company_id(self) -> str:
        """The request log's tenant, as an API key's ``company_id``."""
        return str(self.company.pk)


@dataclass(frozen=True)
class OdClientCaller:
    """``request.user`` on the one view that needs no merchant (listMerchants): the client alone."""

    client: OdClient
    is_authenticated: bool = True
    company_id: str | None = None


def od_caller(request: Request) -> OdCaller:
    """``request.user`` as what it is behind ``OdView``: the stubs can only say User | AnonymousUser.
    A view reached without a caller is a wiring mistake, so it fails loudly."""
    user = request.user
    if not isinstance(user, OdCaller):
        raise TypeError(f"expected an OdCaller as request.user, got {type(user).__name__}")
    return user


def od_client_caller(request: Request) -> OdClient:
    """The calling client on any OpenDelivery view (listMerchants' caller or an ``OdCaller``)."""
    user = request.user
    if not isinstance(user, (OdCaller, OdClientCaller)):
        raise TypeError(f"expected an OpenDelivery caller as request.user, got {type(user).__name__}")
    return user.client


# --- The token: issued by django-oauth-toolkit, checked here ----------------------------------------
def granted_scopes(client: OdClient) -> set[str]:
    """What the client may ask a token for: its scopes (od.all includes od.crm)."""
    scopes = set(client.scopes.split())
    if "od.all" in scopes:
        scopes.add("od.crm")
    return scopes & CUSTOMER_SCOPES


class OdOAuth2Validator(OAuth2Validator):
    """django-oauth-toolkit's validator with the client's own row in charge: a disabled client (or an
    application without one) does not authenticate, and a token carries only the client's scopes."""

    def authenticate_client(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        if not super().authenticate_client(request, *args, **kwargs):
            return False
        client = od_client_of_application(request.client)
        return client is not None and client.enabled

    def validate_scopes(
        self, client_id: str, scopes: list[str], client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        od_client = od_client_of_application(client)
        return od_client is not None and set(scopes) <= granted_scopes(od_client)

    def get_default_scopes(self, client_id: str, request: Any, *args: Any, **kwargs: Any) -> list[str]:
        od_client = od_client_of_application(request.client)
        return sorted(od_client.scopes.split()) if od_client is not None else []


MALFORMED = "The Authorization header must be: Bearer <access_token>."
INVALID = "The access token is unknown, expired or revoked."
DISABLED = "This client is disabled."
OUT_OF_SCOPE = "The token's scopes do not include od.crm or od.all."


def _bearer(request: HttpRequest) -> str | None:
    """The header's token; None without one; raises on a header that is not ``Bearer <token>``."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if (
        scheme.lower() != "bearer"
        or not token
        or len(token) > 255
        or not (token.isascii() and token.isprintable())
        or " " in token
    ):
        raise OdUnauthorized(MALFORMED, code="INVALID_TOKEN")
    return token


def token_of(request: HttpRequest) -> AccessToken | None:
    """The request's valid access token (django-oauth-toolkit checks digest, expiry and
    revocation); None without an Authorization header; raises 401 for any other header."""
    if _bearer(request) is None:
        return None
    valid, oauth_request = get_oauthlib_core().verify_request(request, scopes=[])
    if not valid:
        raise OdUnauthorized(INVALID, code="INVALID_TOKEN")
    token: AccessToken = oauth_request.access_token
    return token


def client_of_token(token: AccessToken) -> OdClient:
    client = od_client_of_application(token.application)
    if client is None or not client.enabled:
        raise OdUnauthorized(DISABLED if client is not None else INVALID, code="INVALID_TOKEN")
    if not set(token.scope.split()) & CUSTOMER_SCOPES:
        raise OdForbidden(OUT_OF_SCOPE, code="INSUFFICIENT_SCOPE")
    return client


# --- The merchant ---------------------------------------------------------------------------------
NO_MERCHANT = (
    "Name the merchant: send X-App-MerchantId (or ?storeId=) with the merchantId your application "
    "knows it by."
)
AMBIGUOUS = "X-App-MerchantId and storeId name different merchants; send one, or the same value in both."
NOT_LINKED = "This client is not linked to that merchant (or the link is disabled)."
OWN_MERCHANT_ONLY = "This client reaches its own merchant only."


MALFORMED_MERCHANT = "X-App-MerchantId and storeId are 1 to 100 printable characters."
MERCHANT_ID_MAX = 100


def _merchant_value(raw: str) -> str:
    value = raw.strip()
    if len(value) > MERCHANT_ID_MAX or not value.isprintable():
        raise OdBadRequest(MALFORMED_MERCHANT, code="INVALID_MERCHANT_ID")
    return value


def requested_merchant(request: HttpRequest) -> str | None:
    """The merchantId the request names (header or storeId); None for neither; 403 when the two
    differ; 400 for a value no merchantId can be."""
    header = _merchant_value(request.META.get("HTTP_X_APP_MERCHANTID", ""))
    stores = {_merchant_value(value) for value in request.GET.getlist(STORE_PARAMETER)}
    if len(stores) > 1:  # a proxy reading the first and this server the last would disagree
        raise OdForbidden(
            "storeId is sent more than once with different values; send it once.", code="MERCHANT_AMBIGUOUS"
        )
    store = next(iter(stores), "")
    if header and store and header != store:
        raise OdForbidden(AMBIGUOUS, code="MERCHANT_AMBIGUOUS")
    return header or store or None


def select_link(client: OdClient, merchant_id: str | None, *, required: bool) -> OdMerchantLink | None:
    """The client's enabled link the request targets. A by_merchant client has one; a by_app client
    must name it (unless ``required`` is False and it names none: None)."""
    if client.kind == ClientKind.BY_MERCHANT:
        link = od_link_of(client)
        if link is None:
            raise OdForbidden(NOT_LINKED, code="MERCHANT_NOT_LINKED")
        if merchant_id is not None and merchant_id != link.merchant_id:
            raise OdForbidden(OWN_MERCHANT_ONLY, code="MERCHANT_NOT_LINKED")
        return link
    if merchant_id is None:
        if required:
            raise OdForbidden(NO_MERCHANT, code="MERCHANT_REQUIRED")
        return None
    link = od_link_of(client, merchant_id=merchant_id)
    if link is None:
        raise OdForbidden(NOT_LINKED, code="MERCHANT_NOT_LINKED")
    return link


# --- DRF: authentication and the rate limit --------------------------------------------------------
class OdBearerAuthentication(BaseAuthentication):
    """The bearer token, its client, and the merchant (``OdView.merchant_required``)."""

    def authenticate(self, request: Request) -> tuple[OdCaller | OdClientCaller, Any] | None:
        token = token_of(request._request)
        if token is None:
            return None
        client = client_of_token(token)
        view = request.parser_context.get("view")
        required = getattr(view, "merchant_required", True)
        link = select_link(client, requested_merchant(request._request), required=required)
        caller: OdCaller | OdClientCaller
        if link is None:
            caller = OdClientCaller(client=client)
        else:
            caller = OdCaller(client=client, link=link, company=link.company)
        return caller, caller

    def authenticate_header(self, request: Request) -> str:
        return WWW_AUTHENTICATE


CLIENT_RATE_LIMITED = "The client's rate limit for this minute is used up; see Retry-After and X-RateLimit-*."
ANONYMOUS_RATE_LIMITED = (
    "Too many requests without a valid token from this address this minute; "
    "see Retry-After and X-RateLimit-*."
)


def client_budget(user: OdCaller | OdClientCaller) -> Budget | None:
    """One request against the client's budget: per client and company, by the company's tier; a
    request that targets no merchant counts on the client's own counter at the lowest tier."""
    if isinstance(user, OdCaller):
        return tier_budget(f"od:{user.client.pk}:{user.company.pk}", user.company.rate_tier)
    return tier_budget(f"od:{user.client.pk}", "free")


def spend(request: Request, budget: Budget | None, detail: str) -> None:
    """Record where the budget stands (``RateLimitHeaders`` writes X-RateLimit-*) and refuse when it is
    used up."""
    if budget is None:
        return
    request.zupy_ratelimit = budget.limits  # type: ignore[attr-defined]
    if not budget.allowed:
        raise OdRateLimited(detail, retry_after=budget.reset)


def spend_anonymous(request: Request) -> None:
    spend(request, anonymous_budget(request._request), ANONYMOUS_RATE_LIMITED)


def spend_client(request: Request, view: APIView) -> None:
    user = request.user
    if isinstance(user, (OdCaller, OdClientCaller)):
        spend(request, client_budget(user), CLIENT_RATE_LIMITED)
