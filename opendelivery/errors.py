"""The OpenDelivery surface's refusals and its error shape.

Every error under ``/v2`` (and the discovery manifest's path) is the standard's ``ErrorResponse``,
``{"code", "message", "details": [strings]}`` as ``application/json``: never problem+json, never
HTML. The statuses and their reasons are still decided once, by ``core.problems`` (the exception
handler for DRF, the error views and middlewares outside it); this module only rewrites the problem
document they produce into the standard's shape (``od_shape``), so the two surfaces cannot disagree
about what an error is, only about how it is written.
"""

from __future__ import annotations

import re
from typing import Any

from rest_framework.response import Response

from core.errors import DomainError, http
from core.problems import problem_exception_handler

CONTENT_TYPE = "application/json"
# The discovery manifest: public, outside /v2, with its own document's error shape.
DISCOVERY_PATH = "/.well-known/opendelivery"
# RFC 6750's challenge: what a client without a usable token is asked for.
WWW_AUTHENTICATE = 'Bearer realm="opendelivery"'
WWW_AUTHENTICATE_INVALID = 'Bearer realm="opendelivery", error="invalid_token"'


class OdError(DomainError):
    """Base of the surface's own refusals. ``details`` are the standard's strings; ``code`` is the
    ``code`` of the answer (upper-case snake case, as every code on this surface)."""

    status, slug, title, default_detail = http(400)
    code: str | None = "BAD_REQUEST"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        details: list[str] | None = None,
        retry_after: int | None = None,
    ) -> None:
        if code is not None:
            self.code = code
        errors = [{"field": "", "detail": item} for item in details] if details else None
        super().__init__(detail, errors=errors, retry_after=retry_after)


class OdBadRequest(OdError):
    """400: a malformed parameter, header or body."""


class OdUnauthorized(OdError):
    status, slug, title, default_detail = http(401)
    code = "UNAUTHORIZED"
    default_detail = "A valid bearer token is required: Authorization: Bearer <access_token>."


class OdForbidden(OdError):
    status, slug, title, default_detail = http(403)
    code = "FORBIDDEN"


class OdNotFound(OdError):
    status, slug, title, default_detail = http(404)
    code = "NOT_FOUND"


class OdConflict(OdError):
    status, slug, title, default_detail = http(409)
    code = "CONFLICT"


class OdRateLimited(OdError):
    status, slug, title, default_detail = http(429)
    code = "RATE_LIMIT_EXCEEDED"


# --- Redemptions and coupon use -------------------------------------------------------------------
def _details(refusal: DomainError) -> list[str] | None:
    return [str(item.get("detail", "")) for item in refusal.errors] if refusal.errors else None


class RedemptionInvalid(OdBadRequest):
    """400 naming the field. The standard declares no 404 for ``createLoyaltyRedemption``, so an
    account or reward the caller cannot reach is a bad request too."""

    code = "INVALID_REDEMPTION"
    default_detail = "The redemption request is not valid."

    def __init__(self, detail: str | None = None, *, field: str | None = None) -> None:
        super().__init__(detail, details=[field] if field else None)


class AccountNotFound(RedemptionInvalid):
    code = "ACCOUNT_NOT_FOUND"
    default_detail = "accountId names no loyalty account of this merchant."


class RewardNotFound(RedemptionInvalid):
    code = "REWARD_NOT_FOUND"
    default_detail = "rewardId names no reward of this merchant."


class QuantityNotSupported(RedemptionInvalid):
    code = "QUANTITY_NOT_SUPPORTED"
    default_detail = "A redemption is for one unit: quantity must be 1."


class IdempotencyKeyInvalid(RedemptionInvalid):
    code = "INVALID_IDEMPOTENCY_KEY"
    default_detail = "Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is a good key)."


class RefusalKept(OdConflict):
    """409 carrying another app's refusal as it is: its code, message and details."""

    def __init__(self, refusal: DomainError) -> None:
        super().__init__(refusal.detail, code=refusal.code, details=_details(refusal))


class RedemptionRefused(RefusalKept):
    """409: the coupons app would refuse this redemption now (not affordable, out of stock, the
    reward inactive or its per-customer limit reached, OTP required); its code and message are kept."""

    code = "REDEMPTION_REFUSED"


class IdempotencyKeyReused(OdConflict):
    code = "IDEMPOTENCY_KEY_REUSED"
    default_detail = "This Idempotency-Key was used for a different redemption (account, reward or order)."


class CouponUseRefused(RefusalKept):
    """409: the coupon cannot be used now (used up or for another order, expired, cancelled, OTP
    required); the coupons app's code and message are kept."""

    code = "COUPON_USE_REFUSED"


class CouponUsedForAnotherOrder(OdConflict):
    code = "COUPON_USED"
    default_detail = "This coupon was used for another order."


class AccountSuspended(OdConflict):
    """409: the standard's SUSPENDED account (a deactivated customer) must not redeem or use coupons."""

    code = "ACCOUNT_SUSPENDED"
    default_detail = "This loyalty account is suspended: it cannot redeem rewards or use coupons."


class CouponNotFound(OdNotFound):
    code = "COUPON_NOT_FOUND"
    default_detail = "couponId names no coupon of this merchant (neither its id nor its code)."


# --- Orders and accrual (customer events) ---------------------------------------------------------
class EventInvalid(OdBadRequest):
    """A customer event that is not a well-formed envelope (or an order event without what it needs)."""

    code = "INVALID_EVENT"
    default_detail = "The customer event is malformed."


class EventTypeUnknown(OdError):
    """An ``eventType`` outside the standard's CustomerEventType: refused with 422, as upstream does
    (the view keeps that status: the standard declares no answers for this path)."""

    status, slug, title = http(422)[:3]
    code = "UNKNOWN_EVENT_TYPE"
    default_detail = "This eventType is not one of the standard's customer event types."


# --- The shape ------------------------------------------------------------------------------------
_NOT_WORD = re.compile(r"[^A-Za-z0-9]+")


def od_code(problem: dict[str, Any]) -> str:
    """The answer's ``code``: the refusal's own code, else its problem slug, in upper snake case."""
    raw = problem.get("code") or str(problem.get("type", "")).rsplit("/", 1)[-1] or "error"
    return _NOT_WORD.sub("_", str(raw)).strip("_").upper() or "ERROR"


def _detail_text(item: Any) -> str:
    if isinstance(item, dict):
        field, detail = str(item.get("field") or ""), str(item.get("detail") or "")
        return f"{field}: {detail}" if field else detail
    return str(item)


def od_body(problem: dict[str, Any]) -> dict[str, Any]:
    """A problem document as the standard's ``ErrorResponse``."""
    return {
        "code": od_code(problem),
        "message": str(problem.get("detail") or problem.get("title") or "The request failed."),
        "details": [_detail_text(item) for item in problem.get("errors") or []],
    }


def od_shape(problem: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """``core.problems.register_error_shape``'s function for this surface."""
    return od_body(problem), CONTENT_TYPE


def od_status(status: int) -> int:
    """The standard declares 400 for every invalid request; the kit's 422 (a body that parses but
    does not validate) is a 400 here."""
    return 400 if status == 422 else status


def od_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Every error raised in an OpenDelivery view: classified by the kit's handler, rewritten into
    the standard's shape, with a Bearer challenge on a 401."""
    response = problem_exception_handler(exc, context)
    status = od_status(response.status_code)
    answer = Response(od_body(response.data or {}), status=status, content_type=CONTENT_TYPE)
    for name, value in response.items():
        if name.lower() not in ("content-type", "www-authenticate"):
            answer[name] = value
    if status == 401:
        request = context.get("request")
        sent = request is not None and bool(request.META.get("HTTP_AUTHORIZATION"))
        answer["WWW-Authenticate"] = WWW_AUTHENTICATE_INVALID if sent else WWW_AUTHENTICATE
    answer._has_been_logged = getattr(response, "_has_been_logged", False)  # type: ignore[attr-defined]
    return answer


def discovery_shape(problem: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A problem document as the discovery document's ``Error``: ``{"error": {code, message}}``."""
    message = str(problem.get("detail") or problem.get("title") or "The request failed.")
    status = int(problem.get("status") or 500)
    error = {"code": od_code(problem).lower(), "message": message, "retryable": status in (429, 503)}
    return {"error": error}, CONTENT_TYPE
