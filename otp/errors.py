"""The refusals of customer OTP: a protected action without a session, and a wrong or dead code."""

from core.errors import AuthenticationRequired, DomainError, RateLimited


class OtpRequired(DomainError):
    status, slug, title, code = 403, "otp-required", "OTP Required", "otp_required"
    default_detail = (
        "This action needs the customer's OTP verification: send X-OTP-Session from /auth/verify-otp/ "
        "for this customer."
    )


class OtpInvalid(AuthenticationRequired):
    code = "otp_invalid"
    default_detail = "The code is wrong."


class OtpAttemptsExceeded(RateLimited):
    code = "otp_attempts_exceeded"
    default_detail = "Too many wrong codes: this code is dead. Request a new one."
