"""The domain error hierarchy. Services raise these; one handler turns them into problem+json.

Each class carries what a partner's code branches on: the HTTP status, the problem ``slug`` (the
last segment of ``type``) and, for domain refusals, a machine-readable ``code``.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status: int = 400
    slug: str = "validation-error"
    title: str = "Validation Error"
    code: str | None = None
    default_detail: str = "The request could not be processed."

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        retry_after: int | None = None,
    ) -> None:
        self.detail = detail or self.default_detail
        self.errors = errors
        self.retry_after = retry_after
        super().__init__(self.detail)


class AuthenticationRequired(DomainError):
    status, slug, title = 401, "authentication-required", "Authentication Required"
    default_detail = "A valid X-API-Key header is required."


class PermissionDenied(DomainError):
    status, slug, title = 403, "permission-denied", "Permission Denied"
    default_detail = "This API key may not perform this action."


class OtpRequired(DomainError):
    status, slug, title, code = 403, "otp-required", "OTP Required", "otp_required"
    default_detail = (
        "This action needs the customer's OTP verification: send X-OTP-Session from /auth/verify-otp/ "
        "for this customer."
    )


class OtpInvalid(AuthenticationRequired):
    code = "otp_invalid"
    default_detail = "The code is wrong."


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "Not Found"
    default_detail = "The resource was not found."


class Conflict(DomainError):
    status, slug, title = 409, "conflict", "Conflict"
    default_detail = "The request conflicts with the current state of the resource."


class ValidationFailed(DomainError):
    status, slug, title = 422, "validation-error", "Validation Error"
    default_detail = "The request is not valid."


class RateLimited(DomainError):
    status, slug, title = 429, "rate-limit-exceeded", "Rate Limit Exceeded"
    default_detail = "Too many requests."


class OtpAttemptsExceeded(RateLimited):
    code = "otp_attempts_exceeded"
    default_detail = "Too many wrong codes: this code is dead. Request a new one."


class ServiceUnavailable(DomainError):
    status, slug, title = 503, "service-unavailable", "Service Unavailable"
    default_detail = "The service is temporarily unavailable. Retry shortly."


# --- Redemption refusals (422) ---------------------------------------------------------------
class InsufficientPoints(ValidationFailed):
    code = "insufficient_points"
    default_detail = "The customer does not have enough points for this reward."


class AlreadyRedeemed(ValidationFailed):
    code = "already_redeemed"
    default_detail = "The customer has already redeemed this reward as many times as allowed."


class RewardUnavailable(ValidationFailed):
    code = "reward_unavailable"
    default_detail = "This reward is not available (inactive, outside its dates, or out of stock)."


class ZGapTooLarge(ValidationFailed):
    code = "z_gap_too_large"
    default_detail = "The points gap is larger than Z$ may cover for this reward."


class InsufficientZBalance(ValidationFailed):
    code = "insufficient_z_balance"
    default_detail = "The customer does not have enough Z$ to cover the points gap."


class BalanceLimit(ValidationFailed):
    code = "balance_limit"
    default_detail = "The balance would exceed its limit."


# --- Idempotency ----------------------------------------------------------------------------
class IdempotencyKeyReused(ValidationFailed):
    code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was used with a different request."


class IdempotencyKeyInFlight(Conflict):
    code = "idempotency_key_in_flight"
    default_detail = "A request with this Idempotency-Key is still being processed. Retry shortly."


# --- Validation (use) refusals (409) ---------------------------------------------------------
class CouponUsed(Conflict):
    code = "coupon_used"
    default_detail = "This coupon has no uses left."


class CouponExpired(Conflict):
    code = "coupon_expired"
    default_detail = "This coupon has expired."


class CouponCancelled(Conflict):
    code = "coupon_cancelled"
    default_detail = "This coupon was cancelled."


class CouponNotCancellable(Conflict):
    code = "coupon_not_cancellable"
    default_detail = "Only an active coupon that has not been used can be cancelled."
