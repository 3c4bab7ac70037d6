from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

CONSOLE = "otp.senders.ConsoleSender"
GATEWAY = "otp.senders.HttpGatewaySender"
EMAIL = "otp.senders.EmailSender"
CONSOLE_EMAIL = "django.core.mail.backends.console.EmailBackend"


def senders_printing_codes() -> list[str]:
    """The channels whose codes would go to stdout: the console sender, or e-mail through the console
    backend (what an empty EMAIL_URL leaves)."""
    return [
        channel
        for channel, sender in settings.OTP_SENDERS.items()
        if sender == CONSOLE or (sender == EMAIL and settings.EMAIL_BACKEND == CONSOLE_EMAIL)
    ]


# Not a deploy-only check: it runs with every management command, `check --deploy` included, and at
# gunicorn's start (zupy/wsgi.py), so a production process never starts printing codes.
@register(Tags.security)
def otp_codes_not_printed_in_production(app_configs: Any, **kwargs: Any) -> list[Error]:
    if settings.DEBUG or settings.OTP_ALLOW_CONSOLE_SENDER:
        return []
    return [
        Error(
            f"With DEBUG off, OTP codes for {channel} would be printed to the log.",
            hint="Set OTP_PHONE_SENDER=otp.senders.HttpGatewaySender with OTP_GATEWAY_URL, and EMAIL_URL "
            "for e-mail; or, on a development machine only, OTP_ALLOW_CONSOLE_SENDER=true.",
            id="otp.E001",
        )
        for channel in senders_printing_codes()
    ]


@register(Tags.security, deploy=True)
def otp_senders_fit_production(app_configs: Any, **kwargs: Any) -> list[Warning]:
    problems = []
    for channel, sender in settings.OTP_SENDERS.items():
        if sender == CONSOLE:
            problems.append(
                Warning(
                    f"OTP codes for {channel} go to the log (ConsoleSender).",
                    hint="Set OTP_PHONE_SENDER=otp.senders.HttpGatewaySender (or another real sender).",
                    id="otp.W001",
                )
            )
        if sender == GATEWAY and not settings.OTP_GATEWAY_URL.startswith("https://"):
            problems.append(
                Warning(
                    "The OTP gateway URL is not set or not https.",
                    hint="Set OTP_GATEWAY_URL (https) and OTP_GATEWAY_TOKEN.",
                    id="otp.W002",
                )
            )
    return problems
