"""The PassKit web service that Wallet calls at a pass's ``webServiceURL`` (Apple's "Wallet web
service": register, unregister, list updated serials, get the latest pass, log), and the public
download of a pass's .pkpass."""

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.http import parse_http_date_safe

from wallet.apple.credentials import AppleCredentials, apple_credentials_or_none
from wallet.apple.pkpass import pkpass_build
from wallet.errors import WalletUnavailable
from wallet.models import AppleDevice, AppleRegistration, WalletPass
from wallet.passkit.errors import PassDeviceLimit, PassNotFound
from wallet.passkit.selectors import pass_authorized, pass_by_download_token

log = logging.getLogger("zupy.wallet.passkit")

# "PassKit/1.0 CFNetwork/1410 Darwin/22.6.0 iOS/17.5", "Passbook/1.0 watchOS/10.4": the OS named in it.
_OS = re.compile(r"\b(iOS|iPadOS|watchOS|macOS|visionOS)[/ ]([0-9][0-9A-Za-z._]{0,30})")
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8}){0,4}\Z")


def user_agent_hints(user_agent: str) -> tuple[str, str]:
    """The platform hint ("ios", "watchos"...) and OS version a Wallet User-Agent names, or blanks."""
    found = _OS.search(user_agent[:500])
    if found is None:
        return ("watchos" if "Watch" in user_agent[:500] else ""), ""
    # An iPad's Wallet is iOS's (the partner API's hints are ios, macos or unknown).
    name = "ios" if found.group(1) == "iPadOS" else found.group(1).lower()
    return name, found.group(2)[:40]


def locale_of(accept_language: str) -> str:
    """The first language of an Accept-Language header ("pt-BR,pt;q=0.9" -> "pt-BR"), or blank."""
    first = accept_language[:200].split(",")[0].split(";")[0].strip()
    return first[:35] if _LANGUAGE_TAG.match(first) else ""


def passkit_register(
    *,
    wallet_pass: WalletPass,
    device_library_identifier: str,
    push_token: str,
    user_agent: str,
    accept_language: str,
    now: datetime | None = None,
) -> bool:
    """Register a device for the pushes of ``wallet_pass`` (its ``ApplePass`` token already checked
    by ``pass_authorized``); True when the registration is new (or was removed and is back), False
    when the device was registered already. The device's push token is the latest request's; the
    OS and locale hints are this registration's. Another device registered for the pass with the
    same push token is unregistered (one push token, one push per change); a new device beyond
    WALLET_MAX_DEVICES_PER_PASS is refused (``PassDeviceLimit``) and nothing is written.

    Locks the WalletPass row (SELECT ... FOR UPDATE) so that registrations of one pass serialise:
    the count against the cap and the push-token replacement see every other registration of the
    pass committed. Then locks the AppleDevice row so that a device registering several passes at
    once (as Wallet does after a restore) writes its token one request at a time; the unique
    (device, pass) makes one of two identical registrations the one that creates."""
    now = now or timezone.now()
    hint, os_version = user_agent_hints(user_agent)
    hints = {"platform_hint": hint, "os_version": os_version, "locale": locale_of(accept_language)}
    with transaction.atomic():
        WalletPass.objects.select_for_update().filter(pk=wallet_pass.pk).first()
        active = AppleRegistration.objects.filter(wallet_pass=wallet_pass, unregistered_at__isnull=True)
        others = active.exclude(device__device_library_identifier=device_library_identifier)
        # The same push token under another device id is the same phone (or a replay of its token).
        others.filter(device__push_token=push_token).update(unregistered_at=now)
        already = active.filter(device__device_library_identifier=device_library_identifier).exists()
        if not already and others.filter(unregistered_at__isnull=True).count() >= (
            settings.WALLET_MAX_DEVICES_PER_PASS
        ):
            raise PassDeviceLimit()
        created_device, _ = AppleDevice.objects.get_or_create(
            device_library_identifier=device_library_identifier,
            defaults={"push_token": push_token, "last_registered_at": now},
        )
        device = AppleDevice.objects.select_for_update().get(pk=created_device.pk)
        device.push_token = push_token
        device.last_registered_at = now
        device.save(update_fields=["push_token", "last_registered_at"])
        registration, created = AppleRegistration.objects.get_or_create(
            device=device, wallet_pass=wallet_pass, defaults={"registered_at": now, **hints}
        )
        if not created:
            if registration.unregistered_at is not None:
                registration.unregistered_at = None
                registration.registered_at = now
                created = True
            # A request without a hint keeps the one this registration had.
            for name, value in hints.items():
                if value:
                    setattr(registration, name, value)
            registration.save(update_fields=["unregistered_at", "registered_at", *hints])
    return created


def passkit_unregister(
    *,
    device_library_identifier: str,
    pass_type_id: str,
    serial_number: str,
    authorization: str,
    now: datetime | None = None,
) -> None:
    """The device removed the pass: its registration stays, with ``unregistered_at`` (the pass's
    status says it was removed), and gets no more pushes. Unregistering twice changes nothing.
    Locks nothing: one conditional UPDATE of the one row."""
    wallet_pass = pass_authorized(
        pass_type_id=pass_type_id, serial_number=serial_number, authorization=authorization
    )
    AppleRegistration.objects.filter(
        wallet_pass=wallet_pass,
        device__device_library_identifier=device_library_identifier,
        unregistered_at__isnull=True,
    ).update(unregistered_at=now or timezone.now())


def passkit_log(*, lines: list[str]) -> int:
    """Wallet's error reports about our passes (a bad signature, a failed update): into the log, at
    most WALLET_PASSKIT_MAX_LOGS lines of WALLET_PASSKIT_MAX_LOG_CHARS characters a request, so a
    client cannot flood it. Returns how many lines were logged."""
    kept = lines[: settings.WALLET_PASSKIT_MAX_LOGS]
    for line in kept:
        # %r: a line is the device's text, and must not forge lines of our own log.
        log.warning("passkit device log: %r", line[: settings.WALLET_PASSKIT_MAX_LOG_CHARS])
    if len(lines) > len(kept):
        log.warning("passkit device log: %d more lines dropped", len(lines) - len(kept))
    return len(kept)


@dataclass(frozen=True)
class PassFile:
    """A .pkpass to answer, or ``content`` None: not modified since the client's copy."""

    content: bytes | None
    last_modified: datetime


def last_modified_of(changed_at: datetime, now: datetime) -> datetime:
    """``Last-Modified`` for a pass changed at ``changed_at``: whole seconds, as HTTP dates are. While
    the second of the change is not over, the second before it: a second change within that same
    second must not hide behind an ``If-Modified-Since`` that names it (the copy is then fetched once
    more, unchanged, rather than kept when stale)."""
    second = changed_at.replace(microsecond=0)
    if now.replace(microsecond=0) <= second:
        return second - timedelta(seconds=1)
    return second


def _credentials() -> AppleCredentials:
    credentials = apple_credentials_or_none()
    if credentials is None:
        raise WalletUnavailable("Apple Wallet is not configured on this server.")
    return credentials


def _pass_file(
    wallet_pass: WalletPass, credentials: AppleCredentials, *, if_modified_since: str, base_url: str
) -> PassFile:
    now = timezone.now()
    last_modified = last_modified_of(wallet_pass.changed_at, now)
    since = parse_http_date_safe(if_modified_since) if if_modified_since else None
    if since is not None and since >= int(wallet_pass.changed_at.timestamp()):
        return PassFile(content=None, last_modified=last_modified)
    content = pkpass_build(wallet_pass=wallet_pass, credentials=credentials, base_url=base_url, now=now)
    return PassFile(content=content, last_modified=last_modified)


def passkit_pass_latest(
    *, pass_type_id: str, serial_number: str, authorization: str, if_modified_since: str, base_url: str
) -> PassFile:
    """The pass as it is now, for the device that holds it (``ApplePass`` token checked), or not
    modified when ``If-Modified-Since`` is not older than its last change. 503 without credentials."""
    wallet_pass = pass_authorized(
        pass_type_id=pass_type_id, serial_number=serial_number, authorization=authorization
    )
    return _pass_file(wallet_pass, _credentials(), if_modified_since=if_modified_since, base_url=base_url)


def apple_pass_download(*, download_token: str, if_modified_since: str, base_url: str) -> PassFile:
    """The public .pkpass link a partner hands the customer (``pass_url``): the token is the only
    key. 503 when Apple is not configured (whatever the token), 404 for an unknown token."""
    credentials = _credentials()
    wallet_pass = pass_by_download_token(download_token)
    if wallet_pass is None:
        raise PassNotFound()
    return _pass_file(wallet_pass, credentials, if_modified_since=if_modified_since, base_url=base_url)
