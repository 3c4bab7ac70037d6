"""The refusals of the OpenDelivery surface. Rendered in the standard's ``{code, message, details}``
shape with their status; ``code`` is upper-cased on the way out."""

from core.errors import Conflict, DomainError, NotFound


# --- Redemptions and coupon use ---------------------------------------------------------------
class RedemptionInvalid(DomainError):
    """400: the standard declares no 404 for ``createLoyaltyRedemption``, so an account or reward
    the caller cannot reach is a bad request naming the field."""

    status, slug, title = 400, "validation-error", "Bad Request"
    code = "invalid_redemption"
    default_detail = "The redemption request is not valid."

    def __init__(self, detail: str | None = None, *, field: str | None = None) -> None:
        super().__init__(
            detail, errors=[{"field": field, "detail": detail or self.default_detail}] if field else None
        )


class AccountNotFound(RedemptionInvalid):
    code = "account_not_found"
    default_detail = "accountId names no loyalty account of this merchant."


class RewardNotFound(RedemptionInvalid):
    code = "reward_not_found"
    default_detail = "rewardId names no reward of this merchant."


class QuantityNotSupported(RedemptionInvalid):
    code = "quantity_not_supported"
    default_detail = "A redemption is for one unit: quantity must be 1."


class IdempotencyKeyInvalid(RedemptionInvalid):
    code = "invalid_idempotency_key"
    default_detail = "Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is a good key)."


class RedemptionRefused(Conflict):
    """409: the coupons app would refuse this redemption now (not affordable, out of stock, the
    reward inactive or its per-customer limit reached, OTP required); its code and message are kept."""

    code = "redemption_refused"

    def __init__(self, refusal: DomainError) -> None:
        super().__init__(refusal.detail, errors=refusal.errors)
        self.code = refusal.code or self.code


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was used for a different redemption (account, reward or order)."


class CouponUseRefused(Conflict):
    """409: the coupon cannot be used now (used up or for another order, expired, cancelled, OTP
    required); the coupons app's code and message are kept."""

    code = "coupon_use_refused"

    def __init__(self, refusal: DomainError) -> None:
        super().__init__(refusal.detail, errors=refusal.errors)
        self.code = refusal.code or self.code


class CouponUsedForAnotherOrder(Conflict):
    code = "coupon_used"
    default_detail = "This coupon was used for another order."


class CouponNotFound(NotFound):
    code = "coupon_not_found"
    default_detail = "couponId names no coupon of this merchant (neither its id nor its code)."
