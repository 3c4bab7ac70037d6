"""The .pkpass of a pass: a ZIP of ``pass.json``, the design's images, ``manifest.json`` (the SHA-1
of every file) and ``signature``, a detached CMS signature of the manifest by the Pass Type ID
certificate, with Apple's WWDR intermediate in it. Built from what the pass shows now, on every
download: nothing is stored, so a change is in the next download without a rebuild step."""

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from wallet.apple.credentials import AppleCredentials
from wallet.images import APPLE_FILES, design_files, design_for, design_title
from wallet.models import PassKind, PassState, WalletDesign, WalletPass

CONTENT_TYPE = "application/vnd.apple.pkpass"
# Wallet decodes the barcode message in this encoding; card numbers and coupon codes are ASCII.
BARCODE_ENCODING = "iso-8859-1"
LAST_MESSAGE_LABEL = "Última Mensagem"


def _rgb(hex_colour: str) -> str:
    value = hex_colour.lstrip("#")
    return f"rgb({int(value[0:2], 16)}, {int(value[2:4], 16)}, {int(value[4:6], 16)})"


def _w3c(moment: datetime) -> str:
    """Apple's dates: ISO 8601 with the offset, to the second."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _barcode(message: str) -> dict[str, str]:
    return {
        "message": message,
        "format": "PKBarcodeFormatQR",
        "messageEncoding": BARCODE_ENCODING,
        "altText": message,
    }


def _back_fields(design: WalletDesign, wallet_pass: WalletPass) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = []
    # Always there, empty until the first notification, so that the first message is a change of
    # a field Wallet already shows, which is what makes it announce it with changeMessage.
    fields.append(
        {
            "key": "last_message",
            "label": LAST_MESSAGE_LABEL,
            "value": wallet_pass.message or "—",
            "changeMessage": "%@",
        }
    )
    if design.back_text:
        fields.append({"key": "terms", "label": "Informações", "value": design.back_text})
    return fields


def _loyalty_fields(design: WalletDesign, wallet_pass: WalletPass) -> dict[str, Any]:
    customer = wallet_pass.customer
    program = getattr(design.company, "loyalty_program", None)
    points_name = program.points_name if program is not None else "pontos"
    return {
        "storeCard": {
            "headerFields": [
                {"key": "tier", "label": "Nível", "value": customer.get_tier_display()},
            ],
            "primaryFields": [
                {
                    "key": "balance",
                    "label": points_name,
                    "value": customer.points_balance,
                    # Shown in the phone's locale: 1.234 in Brazil.
                    "numberStyle": "PKNumberStyleDecimal",
                    "changeMessage": f"Seu saldo agora é %@ {points_name}",
                }
            ],
            "secondaryFields": [
                {"key": "name", "label": "Cliente", "value": customer.full_name or "—"},
            ],
            "auxiliaryFields": [
                {"key": "card_number", "label": "Cartão", "value": customer.card_number},
            ],
            "backFields": _back_fields(design, wallet_pass),
        },
        "barcode": _barcode(customer.card_number),
        "barcodes": [_barcode(customer.card_number)],
    }


def _coupon_fields(design: WalletDesign, wallet_pass: WalletPass, now: datetime) -> dict[str, Any]:
    coupon = wallet_pass.coupon
    assert coupon is not None  # a coupon pass always has its coupon (walletpass_coupon_iff_coupon_kind)
    fields: dict[str, Any] = {
        "coupon": {
            "primaryFields": [{"key": "reward", "label": "Recompensa", "value": coupon.reward.name}],
            "secondaryFields": [
                {
                    "key": "remaining",
                    "label": "Usos restantes",
                    "value": coupon.remaining_usages,
                    "changeMessage": "Usos restantes: %@",
                },
            ],
            "auxiliaryFields": [
                {
                    "key": "valid_until",
                    "label": "Válido até",
                    "value": _w3c(coupon.valid_until),
                    "dateStyle": "PKDateStyleMedium",
                    "timeStyle": "PKDateStyleShort",
                },
                {"key": "code", "label": "Código", "value": coupon.code},
            ],
            "backFields": _back_fields(design, wallet_pass),
        },
        "barcode": _barcode(coupon.code),
        "barcodes": [_barcode(coupon.code)],
        "expirationDate": _w3c(coupon.valid_until),
    }
    if wallet_pass.state(now) != PassState.ACTIVE:
        fields["voided"] = True
    return fields


def pass_json(
    *,
    wallet_pass: WalletPass,
    design: WalletDesign,
    credentials: AppleCredentials,
    base_url: str,
    now: datetime,
) -> dict[str, Any]:
    """``pass.json`` of the pass, as Wallet reads it. ``wallet_pass`` comes with its customer and
    coupon (and the coupon's reward) loaded."""
    title = design_title(design)
    company = design.company
    document: dict[str, Any] = {
        "formatVersion": 1,
        "passTypeIdentifier": credentials.pass_type_id,
        "teamIdentifier": credentials.team_id,
        "serialNumber": str(wallet_pass.serial_number),
        "organizationName": company.trading_name or company.name,
        "description": design.description
        or (f"Cartão fidelidade {title}" if wallet_pass.kind == PassKind.LOYALTY else f"Cupom {title}"),
        "logoText": title,
        "backgroundColor": _rgb(design.background_color),
        "foregroundColor": _rgb(design.foreground_color),
        "labelColor": _rgb(design.label_color),
        # Wallet appends /v1/devices/... and /v1/passes/... to this.
        "webServiceURL": f"{base_url.rstrip('/')}/passkit/",
        "authenticationToken": wallet_pass.auth_token,
    }
    if wallet_pass.kind == PassKind.LOYALTY:
        document.update(_loyalty_fields(design, wallet_pass))
    else:
        document.update(_coupon_fields(design, wallet_pass, now))
    return document


def manifest_sign(manifest: bytes, credentials: AppleCredentials) -> bytes:
    """The ``signature`` file: CMS SignedData over ``manifest`` (detached: the manifest is not in
    it), DER, SHA-256, by the Pass Type ID certificate and key, carrying the WWDR intermediate and
    the signing time (the builder's default signed attributes: content type, signing time, digest)."""
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(manifest)
        .add_signer(credentials.certificate, credentials.key, hashes.SHA256())
        .add_certificate(credentials.wwdr)
        .sign(
            serialization.Encoding.DER,
            [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
        )
    )


def pkpass_zip(files: dict[str, bytes], credentials: AppleCredentials) -> bytes:
    """``files`` (pass.json and images) with their manifest and its signature, zipped."""
    manifest = json.dumps(
        {name: hashlib.sha1(content, usedforsecurity=False).hexdigest() for name, content in files.items()},
        sort_keys=True,
        indent=1,
    ).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in sorted(files.items()):
            archive.writestr(name, content)
        archive.writestr("manifest.json", manifest)
        archive.writestr("signature", manifest_sign(manifest, credentials))
    return out.getvalue()


def pkpass_build(
    *, wallet_pass: WalletPass, credentials: AppleCredentials, base_url: str, now: datetime
) -> bytes:
    """The signed .pkpass of ``wallet_pass`` as it is at ``now``, from its company's design."""
    design = design_for(wallet_pass.company_id)
    document = pass_json(
        wallet_pass=wallet_pass, design=design, credentials=credentials, base_url=base_url, now=now
    )
    files = {
        name: content
        for name, content in design_files(design, title=design_title(design)).items()
        if name in APPLE_FILES
    }
    files["pass.json"] = json.dumps(document, ensure_ascii=False, indent=1).encode()
    return pkpass_zip(files, credentials)
