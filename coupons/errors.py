"""The refusals of the coupon lifecycle: redeeming a reward (422) and using or cancelling a coupon
(409)."""

from core.errors import Conflict, ValidationFailed


# --- Redemption refusals (422) ---------------------------------------------------------------
class InsufficientPoints(ValidationFailed):
    code = "insufficient_points"
    default_detail = "The customer does not have enough points for this reward."


class AlreadyRedeemed(ValidationFailed):
    code = "already_redeemed"
    default_detail = "The customer has already redeemed this reward as many times as allowed."


class FreeRewardAlreadyClaimed(AlreadyRedeemed):
    """A free reward (a marketing one, or any of 0 points) past its per-customer limit, once unless
    set otherwise: upstream's guide names this refusal by its ``errors[].detail``, in Portuguese."""

    default_detail = "The customer has already claimed this free reward (free rewards are once per customer)."
    guide_detail = "Prêmio gratuito já resgatado por este cliente"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, errors=[{"field": "reward_id", "detail": self.guide_detail}])


class RewardUnavailable(ValidationFailed):
    code = "reward_unavailable"
    default_detail = "This reward is not available (inactive, outside its dates, or out of stock)."


class ZGapTooLarge(ValidationFailed):
    code = "z_gap_too_large"
    default_detail = "The points gap is larger than Z$ may cover for this reward."


class InsufficientZBalance(ValidationFailed):
    code = "insufficient_z_balance"
    default_detail = "The customer does not have enough Z$ to cover the points gap."


# --- Validation (use) and cancel refusals (409) ----------------------------------------------
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
