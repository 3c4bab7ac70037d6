"""A throwaway Apple Wallet PKI, made at run time: a root CA, a WWDR-like intermediate, and a Pass
Type ID certificate it issued, written to temporary files the WALLET_APPLE_* settings name. Nothing
of it is committed; nothing of it is Apple's."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

PASS_TYPE_ID = "pass.com.example.zupy.test"
TEAM_ID = "TEAM123456"


@dataclass(frozen=True)
class ApplePki:
    ca: x509.Certificate
    wwdr: x509.Certificate
    leaf: x509.Certificate
    ca_file: Path
    wwdr_file: Path
    cert_file: Path
    key_file: Path
    key_password: str
    pass_type_id: str


def _name(*parts: tuple[Any, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in parts])


def _certificate(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: rsa.RSAPublicKey,
    signer: rsa.RSAPrivateKey,
    *,
    ca: bool,
) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )
    return builder.sign(signer, hashes.SHA256())


def make_pki(directory: Path, *, key_password: str = "", pass_type_id: str = PASS_TYPE_ID) -> ApplePki:
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    wwdr_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = _name((NameOID.COMMON_NAME, "Test Root CA"), (NameOID.ORGANIZATION_NAME, "Zupy tests"))
    wwdr_name = _name(
        (NameOID.COMMON_NAME, "Test Worldwide Developer Relations Certification Authority"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "G4"),
        (NameOID.ORGANIZATION_NAME, "Zupy tests"),
    )
    leaf_name = _name(
        (NameOID.USER_ID, pass_type_id),
        (NameOID.COMMON_NAME, f"Pass Type ID: {pass_type_id}"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, TEAM_ID),
        (NameOID.ORGANIZATION_NAME, "Zupy tests"),
    )
    ca = _certificate(ca_name, ca_name, ca_key.public_key(), ca_key, ca=True)
    wwdr = _certificate(wwdr_name, ca_name, wwdr_key.public_key(), ca_key, ca=True)
    leaf = _certificate(leaf_name, wwdr_name, leaf_key.public_key(), wwdr_key, ca=False)
    pem = serialization.Encoding.PEM
    files = {
        "ca.pem": ca.public_bytes(pem),
        # As Apple's portal hands them out: DER .cer files.
        "wwdr.cer": wwdr.public_bytes(serialization.Encoding.DER),
        "pass.cer": leaf.public_bytes(serialization.Encoding.DER),
        "pass-key.pem": leaf_key.private_bytes(
            pem,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(key_password.encode())
            if key_password
            else serialization.NoEncryption(),
        ),
    }
    for name, content in files.items():
        (directory / name).write_bytes(content)
    return ApplePki(
        ca=ca,
        wwdr=wwdr,
        leaf=leaf,
        ca_file=directory / "ca.pem",
        wwdr_file=directory / "wwdr.cer",
        cert_file=directory / "pass.cer",
        key_file=directory / "pass-key.pem",
        key_password=key_password,
        pass_type_id=pass_type_id,
    )


@pytest.fixture(scope="session")
def apple_pki(tmp_path_factory: pytest.TempPathFactory) -> ApplePki:
    return make_pki(tmp_path_factory.mktemp("apple-pki"), key_password="test-only-password")


def configure(settings: Any, pki: ApplePki) -> None:
    settings.WALLET_APPLE_PASS_TYPE_ID = pki.pass_type_id
    settings.WALLET_APPLE_TEAM_ID = TEAM_ID
    settings.WALLET_APPLE_CERT_FILE = str(pki.cert_file)
    settings.WALLET_APPLE_KEY_FILE = str(pki.key_file)
    settings.WALLET_APPLE_KEY_PASSWORD = pki.key_password
    settings.WALLET_APPLE_WWDR_FILE = str(pki.wwdr_file)


@pytest.fixture
def apple_configured(settings: Any, apple_pki: ApplePki) -> Iterator[ApplePki]:
    configure(settings, apple_pki)
    yield apple_pki
