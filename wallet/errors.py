"""The refusals of the wallet surfaces."""

from core.errors import Conflict, ServiceUnavailable

# Seconds a caller is told to wait when a wallet platform is not configured or does not answer.
WALLET_RETRY_AFTER = 30


class WalletUnavailable(ServiceUnavailable):
    """The platform this operation needs is not configured here, or did not answer: nothing was
    written, and the same request may be sent again."""

    slug = "wallet-temporarily-unavailable"
    title = "Wallet Temporarily Unavailable"
    code = "wallet_temporarily_unavailable"
    default_detail = "This wallet platform is not available right now; nothing was written. See Retry-After."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, retry_after=WALLET_RETRY_AFTER)


class CouponNotPassable(Conflict):
    code = "coupon_not_active"
    default_detail = "This coupon is used, expired or cancelled: it gets no new wallet pass."
