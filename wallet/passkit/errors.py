"""The refusals of the PassKit web service and the public pass and image downloads.

Wallet reads only the status of these answers; the body is the service's problem+json all the same."""

from core.errors import AuthenticationRequired, NotFound


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
