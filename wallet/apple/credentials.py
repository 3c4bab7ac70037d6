"""Apple Wallet's credentials: the Pass Type ID certificate, its private key and Apple's WWDR
intermediate, read from the files the settings name (never from the repository), once per process.

Nothing here logs a key, a password or a file's content: a refusal names the setting and what is
wrong with it, which is what an operator needs to fix it."""

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from django.conf import settings

log = logging.getLogger("zupy.wallet")

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class CredentialsUnusable(Exception):
    """A setting is missing, or its file cannot be read or is not what it should be."""


@dataclass(frozen=True)
class AppleCredentials:
    pass_type_id: str
    team_id: str
    certificate: x509.Certificate
    key: SigningKey
    wwdr: x509.Certificate


def _read(setting: str, path: str) -> bytes:
    if not path:
        raise CredentialsUnusable(f"{setting} is not set")
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CredentialsUnusable(f"{setting}: the file cannot be read ({exc.strerror})") from None


def _certificate(setting: str, path: str) -> x509.Certificate:
    """PEM, or DER as Apple's portal hands a ``.cer`` out."""
    raw = _read(setting, path)
    try:
        if b"-----BEGIN" in raw:
            return x509.load_pem_x509_certificate(raw)
        return x509.load_der_x509_certificate(raw)
    except ValueError:
        raise CredentialsUnusable(f"{setting}: the file is not an X.509 certificate (PEM or DER)") from None


def _key(setting: str, path: str, password: str) -> SigningKey:
    raw = _read(setting, path)
    secret = password.encode() if password else None
    try:
        if b"-----BEGIN" in raw:
            key = serialization.load_pem_private_key(raw, password=secret)
        else:
            key = serialization.load_der_private_key(raw, password=secret)
    except (ValueError, TypeError):
        # TypeError: a password was given for a key without one, or none for an encrypted key.
        raise CredentialsUnusable(
            f"{setting}: the file is not a private key (PEM or DER), "
            "or WALLET_APPLE_KEY_PASSWORD does not open it"
        ) from None
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise CredentialsUnusable(f"{setting}: the key is neither RSA nor EC")
    return key


def _same_public_key(certificate: x509.Certificate, key: SigningKey) -> bool:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return certificate.public_key().public_bytes(der, spki) == key.public_key().public_bytes(der, spki)


@functools.lru_cache(maxsize=4)
def _load(
    pass_type_id: str, team_id: str, cert_file: str, key_file: str, key_password: str, wwdr_file: str
) -> AppleCredentials:
    if not pass_type_id:
        raise CredentialsUnusable("WALLET_APPLE_PASS_TYPE_ID is not set")
    if not team_id:
        raise CredentialsUnusable("WALLET_APPLE_TEAM_ID is not set")
    certificate = _certificate("WALLET_APPLE_CERT_FILE", cert_file)
    key = _key("WALLET_APPLE_KEY_FILE", key_file, key_password)
    if not _same_public_key(certificate, key):
        raise CredentialsUnusable(
            "WALLET_APPLE_KEY_FILE is not the key of WALLET_APPLE_CERT_FILE's certificate"
        )
    # A Pass Type ID certificate names its pass type as the subject's UID: Wallet refuses a pass
    # whose passTypeIdentifier is not the signer's.
    named = certificate.subject.get_attributes_for_oid(NameOID.USER_ID)
    if named and named[0].value != pass_type_id:
        raise CredentialsUnusable(
            "WALLET_APPLE_CERT_FILE is the certificate of another pass type than WALLET_APPLE_PASS_TYPE_ID"
        )
    # ... and the team that owns it as the subject's OU: that is the teamIdentifier Wallet expects.
    team = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    if team and team[0].value != team_id:
        raise CredentialsUnusable(
            "WALLET_APPLE_TEAM_ID is not the team of WALLET_APPLE_CERT_FILE's certificate "
            f"(its subject's OU is {team[0].value!s})"
        )
    wwdr = _certificate("WALLET_APPLE_WWDR_FILE", wwdr_file)
    try:
        certificate.verify_directly_issued_by(wwdr)
    except (ValueError, TypeError, InvalidSignature):
        raise CredentialsUnusable(
            "WALLET_APPLE_WWDR_FILE is not the intermediate that issued WALLET_APPLE_CERT_FILE "
            "(Apple's WWDR G4 issues Pass Type ID certificates)"
        ) from None
    return AppleCredentials(pass_type_id, team_id, certificate, key, wwdr)


def apple_team_id() -> str:
    """WALLET_APPLE_TEAM_ID as Apple spells it: a value pasted into .env often carries a space or a
    newline, which no Team ID has."""
    return str(settings.WALLET_APPLE_TEAM_ID).strip()


def apple_credentials() -> AppleCredentials:
    """The credentials the settings name, loaded on first use and kept (the cache is keyed by the
    settings, so a changed setting loads again). Raises ``CredentialsUnusable``."""
    return _load(
        settings.WALLET_APPLE_PASS_TYPE_ID,
        apple_team_id(),
        settings.WALLET_APPLE_CERT_FILE,
        settings.WALLET_APPLE_KEY_FILE,
        settings.WALLET_APPLE_KEY_PASSWORD,
        settings.WALLET_APPLE_WWDR_FILE,
    )


def apple_credentials_or_none() -> AppleCredentials | None:
    """The credentials, or None (logged once per distinct reason) when they are not usable."""
    try:
        return apple_credentials()
    except CredentialsUnusable as exc:
        _log_unusable(str(exc))
        return None


@functools.lru_cache(maxsize=16)
def _log_unusable(reason: str) -> None:
    log.warning("apple wallet not configured: %s", reason)
