from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register

CONSOLE = "otp.senders.ConsoleSender"
GATEWAY = "otp.senders.HttpGatewaySender"


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
