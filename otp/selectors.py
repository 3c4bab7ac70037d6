"""Reads of OTP sessions, shared by the policy check."""

from django.utils import timezone

from companies.models import Company
from core.db import one_or_none
from otp.models import OtpSession, session_token_digest


def otp_session_customer(*, company: Company, token: str | None) -> str | None:
    """The customer id of a live session token, or None."""
    if not token:
        return None
    return one_or_none(
        OtpSession.objects.filter(
            company=company, token_digest=session_token_digest(token.strip()), expires_at__gt=timezone.now()
        ).values_list("customer_id", flat=True)
    )
