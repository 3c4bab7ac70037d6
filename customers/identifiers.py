"""How customers are identified: phone in E.164, e-mail in lower case, CPF as 11 checked digits.

Stored and matched only in these normal forms, so "(11) 98765-4321" and "+55 11 98765 4321" are the
same customer. Numbers without a country code are read as Brazilian (the upstream's market).
"""

from collections.abc import Callable

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from stdnum.br import cpf as br_cpf

DEFAULT_REGION = "BR"
# RFC 5321's limit on a forward path, and the e-mail column's width: Django's validator allows 320.
MAX_EMAIL_LENGTH = 254


def _phone_parsed(raw: str) -> phonenumbers.PhoneNumber:
    try:
        return phonenumbers.parse(raw, DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("Not a phone number.") from exc


_NOT_VALID_PHONE = "Not a valid phone number (use E.164, e.g. +5511987654321)."


def normalise_phone(raw: str) -> str:
    number = _phone_parsed(raw)
    if not phonenumbers.is_valid_number(number):
        raise ValueError(_NOT_VALID_PHONE)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_for_lookup(raw: str) -> str:
    """The phone a lookup filter searches for: the E.164 form of a valid number; for a number of a
    possible length that is not an assigned one (upstream's onboarding check sends ``0000000000``),
    its digits alone, which no stored phone equals (every stored phone is E.164, ``+`` first), so
    the lookup finds nobody rather than refusing. What cannot be a phone number at all (letters, too
    short, too long) is still a ValueError, as in ``normalise_phone``."""
    number = _phone_parsed(raw)
    if phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not phonenumbers.is_possible_number(number):
        raise ValueError(_NOT_VALID_PHONE)
    return "".join(ch for ch in raw if ch in "0123456789")


def normalise_email(raw: str) -> str:
    email = raw.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH:
        raise ValueError(f"An e-mail address has at most {MAX_EMAIL_LENGTH} characters.")
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValueError("Not a valid e-mail address.") from exc
    return email


def normalise_cpf(raw: str) -> str:
    digits = br_cpf.compact(raw)
    # All-equal digits pass the check-digit arithmetic but are never issued.
    if not br_cpf.is_valid(digits) or len(set(digits)) == 1:
        raise ValueError("Not a valid CPF (its check digits do not match).")
    return digits


# Every identifier field of a Customer and its normaliser: the model's ``save``, the admin form, the
# API's fields and OTP all normalise through these.
NORMALISERS: dict[str, Callable[[str], str]] = {
    "phone": normalise_phone,
    "email": normalise_email,
    "cpf": normalise_cpf,
}
