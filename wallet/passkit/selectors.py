"""Reads of the PassKit web service and the public downloads."""

import hmac
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.db.models import QuerySet

from wallet.models import AppleRegistration, Platform, WalletPass
from wallet.passkit.errors import BadUpdateTag, PassNotAuthorized

AUTH_SCHEME = "ApplePass "


def _apple_passes() -> QuerySet[WalletPass]:
    return WalletPass.objects.select_related("company", "customer", "coupon", "coupon__reward").filter(
        platform=Platform.APPLE
    )


def pass_by_download_token(download_token: str) -> WalletPass | None:
    """The Apple pass published at ``/wallet/apple/<download_token>.pkpass``, loaded to be built."""
    return _apple_passes().filter(download_token=download_token).first()


def pass_authorized(*, pass_type_id: str, serial_number: str, authorization: str) -> WalletPass:
    """The pass Wallet names, if the request carries its ``ApplePass`` token (compared in constant
    time); ``PassNotAuthorized`` otherwise, whether the token, the pass type or the serial is wrong."""
    if pass_type_id != settings.WALLET_APPLE_PASS_TYPE_ID or not authorization.startswith(AUTH_SCHEME):
        raise PassNotAuthorized()
    try:
        serial = uuid.UUID(serial_number)
    except ValueError:
        raise PassNotAuthorized() from None
    wallet_pass = _apple_passes().filter(serial_number=serial).first()
    token = authorization[len(AUTH_SCHEME) :].strip()
    expected = wallet_pass.auth_token if wallet_pass is not None else "0" * 64
    # Compared even for an unknown serial, so that the time taken does not tell it apart.
    if not hmac.compare_digest(token.encode(), expected.encode()) or wallet_pass is None:
        raise PassNotAuthorized()
    return wallet_pass


def tag_of(moment: datetime) -> str:
    """An update tag: microseconds since the epoch (``changed_at`` has no finer grain)."""
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return str((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)


# The last microsecond a datetime holds (9999-12-31T23:59:59.999999Z), as a tag: no later tag exists.
_LAST_TAG = 253_402_300_799_999_999


def moment_of(tag: str) -> datetime:
    """The moment of a tag this server gave out; ``BadUpdateTag`` for anything else (a tag that is
    not digits, or names no moment a pass can have changed at), rather than listing every pass as
    if no tag had been sent."""
    if not (tag.isascii() and tag.isdigit()) or len(tag) > 18 or int(tag) > _LAST_TAG:
        raise BadUpdateTag()
    micros = int(tag)
    return datetime.fromtimestamp(micros // 1_000_000, tz=UTC).replace(microsecond=micros % 1_000_000)


def serials_updated_since(
    *, device_library_identifier: str, pass_type_id: str, since: str | None
) -> tuple[list[str], str] | None:
    """The serial numbers of the passes this device is registered for (and not unregistered) that
    changed after the tag ``since`` (all of them without one, or with an empty one), with the tag to
    send next time; None when there are none. ``BadUpdateTag`` (400) for a tag this server never
    gave out, checked before anything is read."""
    after = moment_of(since) if since else None
    if pass_type_id != settings.WALLET_APPLE_PASS_TYPE_ID:
        return None
    registrations = AppleRegistration.objects.filter(
        device__device_library_identifier=device_library_identifier,
        unregistered_at__isnull=True,
        wallet_pass__platform=Platform.APPLE,
    )
    if after is not None:
        registrations = registrations.filter(wallet_pass__changed_at__gt=after)
    found = list(registrations.values_list("wallet_pass__serial_number", "wallet_pass__changed_at"))
    if not found:
        return None
    serials = sorted(str(serial) for serial, _ in found)
    return serials, tag_of(max(changed for _, changed in found))
