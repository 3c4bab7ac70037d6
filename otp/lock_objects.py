"""The locking reads of OTP challenges, one function per row lock, so that every writer takes a
challenge's lock the same way."""

from companies.models import Company
from core.db import one_or_none
from otp.models import OtpChallenge


def otp_challenge_lock(*, company: Company, identifier: str) -> OtpChallenge | None:
    """The pending challenge for ``identifier``, its row locked until the transaction ends, so that
    concurrent guesses at its code are counted one by one; None if there is none."""
    return one_or_none(
        OtpChallenge.objects.select_for_update().filter(company=company, identifier=identifier)
    )
