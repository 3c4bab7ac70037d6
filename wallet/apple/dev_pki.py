"""A throwaway Apple Wallet PKI, made at run time: a root CA, a WWDR-like intermediate, and a Pass
Type ID certificate it issued, written as files the WALLET_APPLE_* settings can name. Nothing of it
is Apple's, so a phone refuses what it signs; it is for the tests and for trying the Apple side
locally (``manage.py wallet_dev_credentials``). Nothing of it is ever committed.

The Pass Type ID certificate is shaped like Apple's: the pass type as the subject's UID, the Team ID
as its OU, and Apple's Extended Key Usage, which is what makes ``openssl cms -verify`` need
``-purpose any``."""

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

PASS_TYPE_ID = "pass.com.example.zupy.test"
TEAM_ID = "TEAM123456"
# What Apple's Pass Type ID certificates carry as Extended Key Usage: TLS client authentication
# (the APNs certificate auth) and Apple's pass-signing purpose.
APPLE_PASS_SIGNING = ObjectIdentifier("1.2.840.113635.100.4.14")
PASS_EXTENDED_KEY_USAGE = (ExtendedKeyUsageOID.CLIENT_AUTH, APPLE_PASS_SIGNING)


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
    team_id: str

    def settings(self) -> dict[str, str]:
        """The WALLET_APPLE_* settings that name these files."""
        return {
            "WALLET_APPLE_PASS_TYPE_ID": self.pass_type_id,
            "WALLET_APPLE_TEAM_ID": self.team_id,
            "WALLET_APPLE_CERT_FILE": str(self.cert_file),
            "WALLET_APPLE_KEY_FILE": str(self.key_file),
            "WALLET_APPLE_KEY_PASSWORD": self.key_password,
            "WALLET_APPLE_WWDR_FILE": str(self.wwdr_file),
        }


def _name(*parts: tuple[Any, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in parts])


def _certificate(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: rsa.RSAPublicKey,
    signer: rsa.RSAPrivateKey,
    *,
    ca: bool,
    days: int,
) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        ).add_extension(x509.ExtendedKeyUsage(list(PASS_EXTENDED_KEY_USAGE)), critical=False)
    return builder.sign(signer, hashes.SHA256())


def make_pki(
    directory: Path,
    *,
    key_password: str = "",
    pass_type_id: str = PASS_TYPE_ID,
    team_id: str = TEAM_ID,
    days: int = 30,
) -> ApplePki:
    """Write ``ca.pem``, ``wwdr.cer`` and ``pass.cer`` (DER, as Apple's portal hands them out) and
    ``pass-key.pem`` (PKCS#8, encrypted with ``key_password`` if given) into ``directory``."""
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
        (NameOID.ORGANIZATIONAL_UNIT_NAME, team_id),
        (NameOID.ORGANIZATION_NAME, "Zupy tests"),
    )
    ca = _certificate(ca_name, ca_name, ca_key.public_key(), ca_key, ca=True, days=days)
    wwdr = _certificate(wwdr_name, ca_name, wwdr_key.public_key(), ca_key, ca=True, days=days)
    leaf = _certificate(leaf_name, wwdr_name, leaf_key.public_key(), wwdr_key, ca=False, days=days)
    pem = serialization.Encoding.PEM
    files = {
        "ca.pem": ca.public_bytes(pem),
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
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        # The key is readable by its owner only from the moment it exists.
        mode = 0o600 if name == "pass-key.pem" else 0o644
        descriptor = os.open(directory / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(descriptor, "wb") as out:
            out.write(content)
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
        team_id=team_id,
    )
