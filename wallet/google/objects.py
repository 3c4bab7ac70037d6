"""What Google Wallet shows: the company's classes (the look: program name, colour, logo) and one
object per pass (what the customer holds: the card's balance and tier, a coupon's code, validity
and uses left), as the Wallet REST API reads them. Pure: the pass comes loaded
(``wallet.google.selectors.pass_loaded``)."""

from datetime import datetime
from typing import Any

from django.conf import settings

from wallet.images import design_title
from wallet.models import PassKind, PassState, WalletDesign, WalletPass

# How a pass's state reads at Google: a used or cancelled coupon's pass is hidden (INACTIVE), an
# expired one moves to the "Expired passes" section.
OBJECT_STATES: dict[str, str] = {
    PassState.ACTIVE: "ACTIVE",
    PassState.EXPIRED: "EXPIRED",
    PassState.VOIDED: "INACTIVE",
}
RESOURCES: dict[str, tuple[str, str]] = {
    PassKind.LOYALTY: ("loyaltyClass", "loyaltyObject"),
    PassKind.COUPON: ("offerClass", "offerObject"),
}
# The save JWT's payload key of each kind.
SAVE_KEYS: dict[str, str] = {PassKind.LOYALTY: "loyaltyObjects", PassKind.COUPON: "offerObjects"}


def class_id(*, company_id: str, kind: str) -> str:
    """One class per company and kind: ``<issuer>.<company id>-loyalty`` / ``-offer``."""
    suffix = "loyalty" if kind == PassKind.LOYALTY else "offer"
    return f"{settings.WALLET_GOOGLE_ISSUER_ID}.{company_id}-{suffix}"


def object_id(wallet_pass: WalletPass) -> str:
    """``<issuer>.<pass id>``: a retry of an issue that rolled back inserts under a new pass id, and
    the object left behind is never linked to anyone."""
    return wallet_pass.google_object_id or f"{settings.WALLET_GOOGLE_ISSUER_ID}.{wallet_pass.pk}"


def _image(uri: str) -> dict[str, Any]:
    return {"sourceUri": {"uri": uri}}


def class_body(*, design: WalletDesign, kind: str, logo_url: str | None) -> dict[str, Any]:
    """The class of ``kind`` for the design's company. ``logo_url``: the design's public logo
    (Google fetches it); a loyalty class needs one to be accepted."""
    company = design.company
    issuer = company.trading_name or company.name
    title = design_title(design)
    body: dict[str, Any] = {
        "id": class_id(company_id=company.pk, kind=kind),
        "issuerName": issuer,
        "reviewStatus": "UNDER_REVIEW",
        "hexBackgroundColor": design.background_color,
    }
    if kind == PassKind.LOYALTY:
        body.update(programName=title, accountIdLabel="Cartão", accountNameLabel="Cliente")
        if logo_url:
            body["programLogo"] = _image(logo_url)
    else:
        body.update(title=title, provider=issuer, redemptionChannel="INSTORE")
        if logo_url:
            body["titleImage"] = _image(logo_url)
    return body


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _barcode(value: str) -> dict[str, str]:
    return {"type": "QR_CODE", "value": value, "alternateText": value}


def object_state(wallet_pass: WalletPass, now: datetime) -> str:
    return OBJECT_STATES[wallet_pass.state(now)]


def object_body(*, wallet_pass: WalletPass, now: datetime) -> dict[str, Any]:
    """The object of the pass as it is now: the whole resource, for insert and for PATCH."""
    body: dict[str, Any] = {
        "id": object_id(wallet_pass),
        "classId": class_id(company_id=wallet_pass.company_id, kind=wallet_pass.kind),
        "state": object_state(wallet_pass, now),
    }
    coupon = wallet_pass.coupon
    if coupon is None:
        customer = wallet_pass.customer
        program = getattr(wallet_pass.company, "loyalty_program", None)
        points_name = program.points_name if program is not None else "pontos"
        body.update(
            accountId=customer.card_number,
            accountName=customer.full_name or customer.card_number,
            loyaltyPoints={"label": points_name, "balance": {"int": customer.points_balance}},
            secondaryLoyaltyPoints={"label": "Nível", "balance": {"string": customer.get_tier_display()}},
            barcode=_barcode(customer.card_number),
        )
    else:
        body.update(
            barcode=_barcode(coupon.code),
            validTimeInterval={"end": {"date": _rfc3339(coupon.valid_until)}},
            textModulesData=[
                {"id": "reward", "header": "Recompensa", "body": coupon.reward.name},
                {"id": "remaining", "header": "Usos restantes", "body": str(coupon.remaining_usages)},
            ],
        )
    return body


def message_body(*, wallet_pass: WalletPass, message_id: str) -> dict[str, Any]:
    """The pass's latest notification as a Google message: the type's label as the header. The
    ``message_id`` is the job's, so a retried job sends the same message again, not a second one."""
    label = wallet_pass.get_message_type_display() if wallet_pass.message_type else "Mensagem"
    return {"header": label, "body": wallet_pass.message, "id": message_id, "messageType": "TEXT_AND_NOTIFY"}
