"""The .pkpass as Wallet receives it: unzipped, every manifest digest checked, the signature
verified by OpenSSL (as a person would, on the command line) and by ``cryptography``."""

import hashlib
import io
import json
import logging
import subprocess
import zipfile
from datetime import UTC, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from django.core.management import call_command
from django.utils import timezone

from companies.models import Company
from coupons.models import CouponStatus
from customers.models import Customer
from tests.factories import CouponFactory, CustomerFactory
from tests.wallet.apple_certs import PASS_TYPE_ID, TEAM_ID, ApplePki, apple_configured, apple_pki, make_pki
from wallet.apple.credentials import (
    CredentialsUnusable,
    _log_unusable,
    apple_credentials,
    apple_credentials_or_none,
)
from wallet.apple.dev_pki import PASS_EXTENDED_KEY_USAGE
from wallet.apple.pkpass import pkpass_build
from wallet.apple.platform import APPLE
from wallet.errors import WalletUnavailable
from wallet.models import PassKind, Platform, WalletDesign, WalletPass

__all__ = ["apple_configured", "apple_pki"]  # fixtures, used by name

pytestmark = pytest.mark.django_db

BASE = "https://wallet.example.test"


def card_pass(**customer: Any) -> WalletPass:
    owner = CustomerFactory.create(points=1234, **customer)
    return WalletPass.objects.create(
        company=owner.company,
        customer=owner,
        kind=PassKind.LOYALTY,
        platform=Platform.APPLE,
        changed_at=timezone.now(),
    )


def coupon_pass(**coupon: Any) -> WalletPass:
    found = CouponFactory.create(**coupon)
    return WalletPass.objects.create(
        company=found.company,
        customer=found.customer,
        coupon=found,
        kind=PassKind.COUPON,
        platform=Platform.APPLE,
        changed_at=timezone.now(),
    )


def build(wallet_pass: WalletPass) -> bytes:
    loaded = WalletPass.objects.select_related("customer", "coupon", "coupon__reward").get(pk=wallet_pass.pk)
    return pkpass_build(
        wallet_pass=loaded, credentials=apple_credentials(), base_url=BASE, now=timezone.now()
    )


def unzip(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


# --- A minimal DER reader: enough of CMS SignedData to check its one signature ----------------------
def tlv(data: bytes, at: int = 0) -> tuple[int, bytes, int, int]:
    """(tag, value, start of the element, end of the element) of the DER element at ``at``."""
    tag, length, head = data[at], data[at + 1], 2
    if length & 0x80:
        count = length & 0x7F
        length, head = int.from_bytes(data[at + 2 : at + 2 + count], "big"), 2 + count
    return tag, data[at + head : at + head + length], at, at + head + length


def children(value: bytes) -> list[tuple[int, bytes, bytes]]:
    """(tag, value, whole encoding) of each element in a constructed value."""
    out, at = [], 0
    while at < len(value):
        tag, inner, start, end = tlv(value, at)
        out.append((tag, inner, value[start:end]))
        at = end
    return out


MESSAGE_DIGEST = bytes.fromhex("06092a864886f70d010904")
SIGNING_TIME = bytes.fromhex("06092a864886f70d010905")


def verify_with_cryptography(signature: bytes, manifest: bytes, pki: ApplePki) -> None:
    """The signer's certificate and the WWDR intermediate are in the signature, chain to the CA,
    and the signer's signature covers signed attributes whose message digest is the manifest's."""
    certificates = pkcs7.load_der_pkcs7_certificates(signature)
    assert set(certificates) == {pki.leaf, pki.wwdr}
    pki.leaf.verify_directly_issued_by(pki.wwdr)
    pki.wwdr.verify_directly_issued_by(pki.ca)

    _, content_info, _, _ = tlv(signature)
    _, explicit, _ = children(content_info)[1]
    _, signed_data, _ = children(explicit)[0]
    parts = children(signed_data)
    encapsulated = children(parts[2][1])
    assert len(encapsulated) == 1  # detached: the content type only, no content
    signer_infos = children(parts[-1][1])
    assert len(signer_infos) == 1
    fields = children(signer_infos[0][1])
    attributes = next(whole for tag, _, whole in fields if tag == 0xA0)
    signature_value = fields[-1][1]
    # The signature is over the attributes as a SET OF (tag 0x31), not as the [0] they are stored as.
    signed = b"\x31" + attributes[1:]
    public_key = pki.leaf.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(signature_value, signed, padding.PKCS1v15(), hashes.SHA256())
    by_type = {children(value)[0][2]: children(value)[1][1] for _, value, _ in children(tlv(attributes)[1])}
    assert children(by_type[MESSAGE_DIGEST])[0][1] == hashlib.sha256(manifest).digest()
    assert SIGNING_TIME in by_type


def openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60, check=False)


def test_a_card_pass_is_a_signed_zip_whose_manifest_lists_every_file(apple_configured, tmp_path):
    files = unzip(build(card_pass()))
    assert {"pass.json", "manifest.json", "signature", "icon.png", "icon@2x.png", "icon@3x.png"} <= set(files)
    manifest = json.loads(files["manifest.json"])
    assert set(manifest) == set(files) - {"manifest.json", "signature"}
    for name, digest in manifest.items():
        assert hashlib.sha1(files[name]).hexdigest() == digest, name


def test_the_signature_verifies_with_openssl_cms_and_smime(apple_configured, tmp_path):
    files = unzip(build(card_pass()))
    (tmp_path / "manifest.json").write_bytes(files["manifest.json"])
    (tmp_path / "signature").write_bytes(files["signature"])
    common = ["-binary", "-inform", "DER", "-in", str(tmp_path / "signature")]
    common += ["-content", str(tmp_path / "manifest.json"), "-CAfile", str(apple_configured.ca_file)]
    # -purpose any, as docs/wallet.md says: OpenSSL's default purpose (S/MIME signing) refuses a
    # signer whose Extended Key Usage is Apple's, as a real Pass Type ID certificate's is.
    common += ["-purpose", "any"]
    cms = openssl("cms", "-verify", *common, "-out", str(tmp_path / "cms.out"))
    assert cms.returncode == 0, cms.stderr
    assert "Verification successful" in cms.stderr
    smime = openssl("smime", "-verify", *common, "-out", str(tmp_path / "smime.out"))
    assert smime.returncode == 0, smime.stderr
    assert (tmp_path / "cms.out").read_bytes() == files["manifest.json"]
    printed = openssl("cms", "-cmsout", "-print", "-inform", "DER", "-in", str(tmp_path / "signature"))
    assert "signingTime" in printed.stdout
    assert "sha256" in printed.stdout


def test_a_changed_manifest_fails_openssl_verification(apple_configured, tmp_path):
    files = unzip(build(card_pass()))
    (tmp_path / "manifest.json").write_bytes(files["manifest.json"].replace(b"{", b"{ ", 1))
    (tmp_path / "signature").write_bytes(files["signature"])
    result = openssl(
        "cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp_path / "signature"),
        "-content", str(tmp_path / "manifest.json"), "-CAfile", str(apple_configured.ca_file),
        "-purpose", "any", "-out", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.returncode != 0
    assert "purpose" not in result.stderr  # refused for the content, not for the certificate


def test_the_signer_has_apples_extended_key_usage_so_openssl_needs_purpose_any(apple_configured, tmp_path):
    usage = apple_configured.leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == list(PASS_EXTENDED_KEY_USAGE)
    files = unzip(build(card_pass()))
    (tmp_path / "manifest.json").write_bytes(files["manifest.json"])
    (tmp_path / "signature").write_bytes(files["signature"])
    result = openssl(
        "cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp_path / "signature"),
        "-content", str(tmp_path / "manifest.json"), "-CAfile", str(apple_configured.ca_file),
        "-out", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.returncode != 0
    assert "unsuitable certificate purpose" in result.stderr


def test_the_signature_verifies_with_cryptography(apple_configured):
    files = unzip(build(card_pass()))
    verify_with_cryptography(files["signature"], files["manifest.json"], apple_configured)


def test_a_card_pass_json_is_a_store_card_with_the_card_number_as_qr_barcode(apple_configured):
    wallet_pass = card_pass(full_name="Ana Souza")
    WalletDesign.objects.create(
        company=wallet_pass.company,
        program_name="Clube Sabor",
        background_color="#102030",
        foreground_color="#FFFFFF",
        label_color="#A0B0C0",
        back_text="Válido nas lojas participantes.",
    )
    document = json.loads(unzip(build(wallet_pass))["pass.json"])
    assert document["formatVersion"] == 1
    assert document["passTypeIdentifier"] == PASS_TYPE_ID
    assert document["teamIdentifier"] == TEAM_ID
    assert document["serialNumber"] == str(wallet_pass.serial_number)
    assert document["authenticationToken"] == wallet_pass.auth_token
    assert document["webServiceURL"] == f"{BASE}/passkit/"
    assert document["organizationName"] == wallet_pass.company.name
    assert document["logoText"] == "Clube Sabor"
    assert document["backgroundColor"] == "rgb(16, 32, 48)"
    assert document["labelColor"] == "rgb(160, 176, 192)"
    card = document["storeCard"]
    assert card["primaryFields"][0]["value"] == 1234
    assert {f["value"] for f in card["auxiliaryFields"]} == {wallet_pass.customer.card_number}
    barcode = {
        "message": wallet_pass.customer.card_number,
        "format": "PKBarcodeFormatQR",
        "messageEncoding": "iso-8859-1",
        "altText": wallet_pass.customer.card_number,
    }
    assert document["barcode"] == barcode
    assert document["barcodes"] == [barcode]
    back = {f["key"]: f for f in card["backFields"]}
    assert back["terms"]["value"] == "Válido nas lojas participantes."
    assert back["last_message"]["changeMessage"] == "%@"
    assert "coupon" not in document and "voided" not in document


def test_the_last_notification_is_a_back_field(apple_configured):
    wallet_pass = card_pass()
    wallet_pass.message = "Dobro de pontos hoje!"
    wallet_pass.save()
    card = json.loads(unzip(build(wallet_pass))["pass.json"])["storeCard"]
    field = next(f for f in card["backFields"] if f["key"] == "last_message")
    assert field == {
        "key": "last_message",
        "label": "Última Mensagem",
        "value": "Dobro de pontos hoje!",
        "changeMessage": "%@",
    }


def test_a_coupon_pass_shows_the_reward_uses_and_expiry_with_the_code_as_barcode(apple_configured):
    wallet_pass = coupon_pass(reward__name="Café grátis", reward__total_usages_allowed=3)
    document = json.loads(unzip(build(wallet_pass))["pass.json"])
    coupon = wallet_pass.coupon
    assert coupon is not None
    assert document["coupon"]["primaryFields"][0]["value"] == "Café grátis"
    assert document["coupon"]["secondaryFields"][0]["value"] == 3
    assert document["barcode"]["message"] == coupon.code
    assert document["barcodes"][0]["message"] == coupon.code
    assert document["expirationDate"] == coupon.valid_until.astimezone(UTC).isoformat(timespec="seconds")
    assert "voided" not in document
    assert "storeCard" not in document


@pytest.mark.parametrize(
    "change",
    [
        {"status": CouponStatus.USED, "remaining_usages": 0},
        {"status": CouponStatus.CANCELLED},
        {"valid_until": "past"},
    ],
    ids=["used", "cancelled", "expired"],
)
def test_a_coupon_pass_is_voided_once_the_coupon_is_used_cancelled_or_expired(apple_configured, change):
    wallet_pass = coupon_pass()
    coupon = wallet_pass.coupon
    assert coupon is not None
    for field, value in change.items():
        setattr(coupon, field, timezone.now() - timedelta(minutes=1) if value == "past" else value)
    coupon.save()
    assert json.loads(unzip(build(wallet_pass))["pass.json"])["voided"] is True


def test_the_platform_is_configured_only_with_every_file_loadable(settings, apple_configured, tmp_path):
    assert APPLE.configured()
    settings.WALLET_APPLE_WWDR_FILE = str(tmp_path / "missing.cer")
    assert not APPLE.configured()
    with pytest.raises(WalletUnavailable):
        APPLE.issue(wallet_pass=card_pass(), base_url=BASE)


@pytest.mark.parametrize(
    ("setting", "value", "reason"),
    [
        ("WALLET_APPLE_PASS_TYPE_ID", "", "WALLET_APPLE_PASS_TYPE_ID is not set"),
        ("WALLET_APPLE_PASS_TYPE_ID", "pass.com.example.other", "another pass type"),
        ("WALLET_APPLE_KEY_PASSWORD", "wrong", "does not open it"),
        ("WALLET_APPLE_KEY_FILE", "other-key", "is not the key of"),
        ("WALLET_APPLE_WWDR_FILE", "other-wwdr", "is not the intermediate"),
        ("WALLET_APPLE_CERT_FILE", "not-a-cert", "is not an X.509 certificate"),
        ("WALLET_APPLE_TEAM_ID", "WRONGTEAM1", "WALLET_APPLE_TEAM_ID is not the team of"),
        ("WALLET_APPLE_TEAM_ID", "  ", "WALLET_APPLE_TEAM_ID is not set"),
    ],
)
def test_unusable_credentials_say_which_setting_and_never_the_secret(
    settings, apple_configured, tmp_path, setting, value, reason
):
    other = make_pki(tmp_path)
    junk = tmp_path / "junk.cer"
    junk.write_bytes(b"not a certificate")
    value = {
        "other-key": str(other.key_file),
        "other-wwdr": str(other.wwdr_file),
        "not-a-cert": str(junk),
    }.get(value, value)
    if setting == "WALLET_APPLE_KEY_FILE":
        settings.WALLET_APPLE_KEY_PASSWORD = ""
    setattr(settings, setting, value)
    with pytest.raises(CredentialsUnusable, match=reason) as raised:
        apple_credentials()
    assert apple_configured.key_password not in str(raised.value)
    assert not APPLE.configured()


def test_pass_url_is_the_public_pkpass_link(apple_configured):
    wallet_pass = card_pass()
    assert APPLE.pass_url(wallet_pass=wallet_pass, base_url=BASE + "/") == (
        f"{BASE}/wallet/apple/{wallet_pass.download_token}.pkpass"
    )
    APPLE.issue(wallet_pass=wallet_pass, base_url=BASE)  # configured: nothing to do, no refusal


def test_a_padded_team_id_is_the_certificates_team(settings, apple_configured):
    settings.WALLET_APPLE_TEAM_ID = f"  {TEAM_ID} \n"
    assert apple_credentials().team_id == TEAM_ID
    assert json.loads(unzip(build(card_pass()))["pass.json"])["teamIdentifier"] == TEAM_ID


def test_a_team_id_that_is_not_the_certificates_is_not_configured_with_a_warning(
    settings, apple_configured, caplog
):
    settings.WALLET_APPLE_TEAM_ID = "WRONGTEAM1"
    _log_unusable.cache_clear()  # once per reason and process: another test may have logged it
    with caplog.at_level(logging.WARNING, logger="zupy.wallet"):
        assert apple_credentials_or_none() is None
    assert not APPLE.configured()
    (line,) = [r.getMessage() for r in caplog.records if r.name == "zupy.wallet"]
    assert line == (
        "apple wallet not configured: WALLET_APPLE_TEAM_ID is not the team of WALLET_APPLE_CERT_FILE's "
        f"certificate (its subject's OU is {TEAM_ID})"
    )


def test_the_demo_card_speaks_one_language(apple_configured):
    call_command("seed_demo", "--json", stdout=io.StringIO())
    company = Company.objects.get(name="Demo Restaurant (trusted)")
    owner = Customer.objects.get(company=company, phone="+5511987654321")
    wallet_pass = WalletPass.objects.create(
        company=company,
        customer=owner,
        kind=PassKind.LOYALTY,
        platform=Platform.APPLE,
        changed_at=timezone.now(),
    )
    (balance,) = json.loads(unzip(build(wallet_pass))["pass.json"])["storeCard"]["primaryFields"]
    assert (balance["label"], balance["changeMessage"]) == ("pontos", "Seu saldo agora é %@ pontos")
