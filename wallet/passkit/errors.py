"""The refusals of the PassKit web service and the public pass and image downloads.

Wallet reads only the status of these answers; the body is the service's problem+json all the same."""

from core.errors import AuthenticationRequired, Conflict, DomainError, NotFound, RateLimited, http


class PassNotAuthorized(AuthenticationRequired):
    """Apple's spec answers 401 for a request it cannot authorise: a wrong or missing ``ApplePass``
    token, and equally a pass type or serial number this server never issued (so that the answer
    does not tell which serial numbers exist)."""

    code = "pass_not_authorized"
    default_detail = "Send Authorization: ApplePass <authenticationToken> of this pass."


class PassNotFound(NotFound):
    default_detail = "No pass is published at this address."


class ImageNotFound(NotFound):
    default_detail = "No image is published at this address."


class PassDeviceLimit(Conflict):
    """The pass has WALLET_MAX_DEVICES_PER_PASS devices registered already: a device that removes
    the pass frees its place."""

    code = "pass_device_limit"
    default_detail = "This pass is registered on as many devices as it may be; remove it from one first."


class BadUpdateTag(DomainError):
    """``passesUpdatedSince`` is not a tag this server gave out (digits, microseconds since 1970)."""

    status, slug, title = http(400)[:3]
    code = "bad_update_tag"
    default_detail = "passesUpdatedSince must be the lastUpdated value this service answered."


class PublicRateLimited(RateLimited):
    """Over WALLET_PUBLIC_RATE_LIMIT requests from this address this minute."""

    code = "wallet_rate_limited"
    default_detail = "Too many requests to the wallet paths from this address this minute; see Retry-After."
