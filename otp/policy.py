"""The OTP policy (the calling key's integration's preset, else the company's), checked by each
protected action's own service: enrolment (``customers.services.customer_enrol``), redemption
(``coupons.services.coupon_redeem``) and coupon use (``coupons.services.coupon_validate``), all
with the one call ``otp_session_check``.

A module of its own, apart from ``otp.services``, because it must import nothing that imports
``customers.services``: ``otp.services`` does (verify-otp enrols a new customer), and
``customers.services`` calls this check. Here only otp's models, errors and selectors are used,
and integrations' selectors (the key's integration), which import no service either.
"""

from companies.models import OTP_PRESETS, ApiKey, Company
from integrations.selectors import integration_otp_preset
from otp.errors import OtpRequired
from otp.selectors import otp_session_customer

ACTIONS = {
    "enrollment": "require_otp_for_enrollment",
    "redemption": "require_otp_for_redemption",
    "coupon_usage": "require_otp_for_coupon_usage",
}
# Where each action's flag is in a preset's (enrollment, redemption, coupon_usage, trust) flags.
PRESET_INDEX = {"enrollment": 0, "redemption": 1, "coupon_usage": 2}


def otp_required(*, company: Company, action: str, api_key: ApiKey | None = None) -> bool:
    """Whether the policy asks for OTP on this action: the preset of the integration ``api_key`` is
    bound to (upstream sets the policy per integration), else the company's. ``trust_partner_validation``
    waives every requirement: the partner vouches that it verified the customer itself."""
    preset = integration_otp_preset(api_key_id=api_key.pk) if api_key is not None else ""
    if preset:
        flags = OTP_PRESETS[preset]
        return flags[PRESET_INDEX[action]] and not flags[3]
    return getattr(company, ACTIONS[action]) and not company.trust_partner_validation


def otp_session_check(
    *,
    company: Company,
    customer_id: str | None,
    action: str,
    token: str | None,
    api_key: ApiKey | None = None,
) -> None:
    """403 ``otp-required`` unless the policy (``otp_required``) waives OTP for ``action`` or ``token``
    is a live session of this company for this customer (for any of its customers when
    ``customer_id`` is None). Missing, expired and another customer's sessions look alike."""
    if not otp_required(company=company, action=action, api_key=api_key):
        return
    session_customer = otp_session_customer(company=company, token=token)
    if session_customer is not None and (customer_id is None or session_customer == customer_id):
        return
    raise OtpRequired()
