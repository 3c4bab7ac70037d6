"""Delivery of OTP codes. Which sender serves which channel is a setting (``OTP_SENDERS``)."""

import json
import logging
from typing import Protocol

from django.conf import settings
from django.core.mail import send_mail
from django.utils.module_loading import import_string

from core.http import HttpFailed, http_post
from core.timefmt import duration_words
from otp.models import CODE_TTL

log = logging.getLogger("zupy.otp")


class DeliveryFailed(Exception):
    pass


class Sender(Protocol):
    def send(self, *, channel: str, destination: str, code: str, company_name: str) -> None: ...


def mask(identifier: str) -> str:
    """Enough to recognise, not enough to use: ``+55*******4321``, ``m***@example.com``."""
    if "@" in identifier:
        user, _, domain = identifier.partition("@")
        return f"{user[:1]}***@{domain}"
    return identifier[:3] + "*" * max(len(identifier) - 7, 0) + identifier[-4:]


def message(code: str, company_name: str) -> str:
    return f"{code} is your {company_name} verification code. It expires in {duration_words(CODE_TTL)}."


class ConsoleSender:
    """Development: one log line a developer can read the code from."""

    def send(self, *, channel: str, destination: str, code: str, company_name: str) -> None:
        log.warning("OTP for %s: %s", mask(destination), code)


class EmailSender:
    """Django's e-mail (EMAIL_BACKEND and friends)."""

    def send(self, *, channel: str, destination: str, code: str, company_name: str) -> None:
        try:
            send_mail(
                subject=f"Your {company_name} code",
                message=message(code, company_name),
                from_email=None,
                recipient_list=[destination],
            )
        except Exception as exc:  # SMTP failures come in many types
            raise DeliveryFailed(f"e-mail delivery failed: {type(exc).__name__}") from exc


class HttpGatewaySender:
    """WhatsApp/SMS through an HTTP gateway: POST JSON to OTP_GATEWAY_URL with a bearer token."""

    def send(self, *, channel: str, destination: str, code: str, company_name: str) -> None:
        body = json.dumps(
            {"to": destination, "channel": channel, "code": code, "message": message(code, company_name)}
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {settings.OTP_GATEWAY_TOKEN}",
        }
        try:
            status = http_post(
                settings.OTP_GATEWAY_URL, body=body, headers=headers, timeout=settings.OTP_GATEWAY_TIMEOUT
            )
        except HttpFailed as exc:
            raise DeliveryFailed(f"gateway unreachable: {exc}") from exc
        if not 200 <= status < 300:  # a redirect included: the code is not sent on to another URL
            raise DeliveryFailed(f"gateway answered {status}")


def sender_configured(channel: str) -> bool:
    return bool(settings.OTP_SENDERS.get(channel))


def sender_for(channel: str) -> Sender:
    return import_string(settings.OTP_SENDERS[channel])()
