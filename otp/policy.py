"""The company's OTP policy, checked by each protected action's own service: enrolment
(``customers.services.customer_enrol``), redemption (``coupons.services.coupon_redeem``) and coupon
use (``coupons.services.coupon_validate``), all with the one call ``otp_session_check``.

A module of its own, apart from ``otp.services``, because it must import nothing that imports
``customers.services``: ``otp.services`` does (verify-otp enrols a new customer), and
``customers.services`` calls this check. Here only otp's models, errors and selectors are used.
"""

from companies.models import Company
from otp.errors import OtpRequired
from otp.selectors import otp_session_customer

ACTIONS = {
    "enrollment": "require_otp_for_enrollment",
    "redemption": "require_otp_for_redemption",
    "coupon_usage": "require_otp_for_coupon_usage",
}


def otp_required(*, company: Company, action: str) -> bool:
    """Whether the company's policy asks for OTP on this action. ``trust_partner_validation`` waives
    every requirement: the partner vouches that it verified the customer itself."""
    return getattr(company, ACTIONS[action]) and not company.trust_partner_validation


def otp_session_check(*, company: Company, customer_id: str | None, action: str, token: str | None) -> None:
    """403 ``otp-required`` unless the policy waives OTP for ``action`` or ``token`` is a live session
    of this company for this customer (for any of its customers when ``customer_id`` is None).
    Missing, expired and another customer's sessions look alike."""
    if not otp_required(company=company, action=action):
        return
    session_customer = otp_session_customer(company=company, token=token)
    if session_customer is not None and (customer_id is None or session_customer == customer_id):
        return
    raise OtpRequired()
