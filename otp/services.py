"""Customer OTP: request a code, verify it (enrolling a new customer). The policy check of the
protected actions is ``otp.policy``."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from companies.models import Company
from core.errors import DomainError, NotFound, RateLimited, ServiceUnavailable, ValidationFailed
from core.ratelimit import CounterUnavailable, window_hit
from customers.identifiers import normalise_cpf, normalise_email, normalise_phone
from customers.models import Customer
from customers.services import customer_find_or_create
from otp.errors import OtpAttemptsExceeded, OtpInvalid
from otp.lock_objects import otp_challenge_lock
from otp.models import (
    CODE_TTL,
    PHONE_CHANNELS,
    SESSION_TTL,
    Channel,
    OtpChallenge,
    OtpSession,
    session_token_digest,
)
from otp.senders import DeliveryFailed, sender_configured, sender_for

MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Identifier:
    kind: str  # phone | email | cpf
    value: str


def identifier_parse(raw: str) -> Identifier:
    """Phone (``+55…``), e-mail or CPF. A bare 11-digit number that is a valid CPF is a CPF: send
    phones with their country code."""
    text = raw.strip()
    try:
        if "@" in text:
            return Identifier("email", normalise_email(text))
        if not text.startswith("+"):
            try:
                return Identifier("cpf", normalise_cpf(text))
            except ValueError:
                pass
        return Identifier("phone", normalise_phone(text))
    except ValueError as exc:
        raise ValidationFailed(
            "The identifier is not a phone number, e-mail or CPF.",
            errors=[{"field": "identifier", "detail": str(exc)}],
        ) from exc


def _code_digest(challenge_id: str, code: str) -> str:
    return hmac.new(
        settings.SECRET_KEY.encode(), f"{challenge_id}:{code}".encode(), hashlib.sha256
    ).hexdigest()


def _count_request(scope: str, limit: int) -> None:
    """One hit on an OTP request counter (the kit's fixed window, shared by every API process).

    Fails closed, unlike the API rate limit: these counters are what stops code spraying and message
    costs, so without them no code is sent. 503, and the partner retries later."""
    window = settings.OTP_RATE_WINDOW
    try:
        hit = window_hit(f"otp-rate:{scope}", window=window, fail_open=False)
    except CounterUnavailable as exc:
        raise ServiceUnavailable("OTP codes cannot be sent right now; retry shortly.", retry_after=5) from exc
    if hit.exceeds(limit):
        raise RateLimited(
            "Too many OTP requests; wait before asking for another code.", retry_after=hit.reset
        )


@dataclass(frozen=True)
class OtpSent:
    channel: str
    expires_in: int


def otp_request(*, company: Company, identifier: str, channel: str | None = None) -> OtpSent:
    """Issue a 6-digit code for ``identifier``, send it, and answer with the channel that delivered it.

    ``channel`` chooses the phone channel (``whatsapp``, the default, or ``sms``); a channel with no
    sender in ``OTP_SENDERS`` is refused before anything is counted or stored. When the phone send
    fails and the customer has an e-mail, the code goes to that e-mail instead (the guide's
    fallback) and the answer says ``email``.

    Counted per identifier, per customer (whichever of their identifiers is used) and per company.

    A new request replaces the pending code. The code is stored (committed, when this is not called
    inside a transaction of the caller's) and then sent here, before this returns: the answer is
    the send's. If delivery fails on every channel tried, the pending code is removed and the caller
    gets 503: no code is left behind that the customer never received. Called inside a transaction,
    the code is sent before that transaction commits; the answer is still the send's, and a caller
    that then rolls back leaves the customer a code that verifies as not pending (they ask for another).
    """
    ident = identifier_parse(identifier)
    phone_channel = Channel(channel) if channel else Channel.WHATSAPP
    if channel is not None and ident.kind == "email":
        raise ValidationFailed(
            f"A code by {channel} needs a phone number or CPF as the identifier.",
            errors=[{"field": "channel", "detail": "Only for a phone number or CPF."}],
        )
    if not sender_configured(phone_channel):
        raise ValidationFailed(
            f"Codes by {phone_channel} are not offered by this service.",
            errors=[{"field": "channel", "detail": f"No sender is configured for {phone_channel}."}],
        )
    customer = (
        Customer.objects.filter(company=company, **{ident.kind: ident.value}).only("phone", "email").first()
    )
    _count_request(f"{company.pk}:id:{ident.value}", settings.OTP_REQUESTS_PER_IDENTIFIER)
    if customer is not None:
        # One budget per person too: phone, e-mail and CPF of one customer would otherwise each get
        # a budget of their own (three times the codes for one person in one window).
        _count_request(f"{company.pk}:customer:{customer.pk}", settings.OTP_REQUESTS_PER_CUSTOMER)
    _count_request(f"{company.pk}:company", settings.OTP_REQUESTS_PER_COMPANY)
    destination, send_channel = ident.value, Channel.EMAIL if ident.kind == "email" else phone_channel
    if ident.kind == "cpf":
        # A CPF cannot receive a message: send to the phone (or e-mail) of the customer who has it.
        if customer is None or not (customer.phone or customer.email):
            raise NotFound("No customer with this CPF to send a code to.")
        destination = customer.phone or customer.email or ""
        send_channel = phone_channel if customer.phone else Channel.EMAIL
    attempts = [(send_channel, destination)]
    if send_channel in PHONE_CHANNELS and customer is not None and customer.email:
        attempts.append((Channel.EMAIL, customer.email))
    code = f"{secrets.randbelow(10**6):06d}"
    with transaction.atomic():
        OtpChallenge.objects.filter(company=company, identifier=ident.value).delete()
        challenge = OtpChallenge(
            company=company,
            identifier=ident.value,
            channel=send_channel,
            expires_at=timezone.now() + CODE_TTL,
        )
        challenge.code_digest = _code_digest(challenge.id, code)
        challenge.save(force_insert=True)
    # Sent here, not in transaction.on_commit: inside a caller's transaction that would run only
    # when the caller commits, after this had already answered as if the code were sent.
    failure: DeliveryFailed | None = None
    for used, to in attempts:
        try:
            sender_for(used).send(channel=used, destination=to, code=code, company_name=company.name)
        except DeliveryFailed as exc:
            failure = exc
            continue
        if used != send_channel:
            OtpChallenge.objects.filter(pk=challenge.pk).update(channel=used)
        return OtpSent(channel=used, expires_in=int(CODE_TTL.total_seconds()))
    OtpChallenge.objects.filter(pk=challenge.pk).delete()
    raise ServiceUnavailable("The code could not be delivered. Try again shortly.") from failure


@dataclass(frozen=True)
class OtpVerified:
    customer: Customer
    is_new: bool
    session_token: str


def otp_verify(*, company: Company, identifier: str, code: str) -> OtpVerified:
    """Check a code; on success consume it, enrol the customer if new, and open a session (``SESSION_TTL``).

    Locks the challenge row (``otp_challenge_lock``) so that concurrent guesses are counted one by
    one. A wrong guess is committed (its attempt counts) before the 401 is raised; after
    MAX_ATTEMPTS wrong guesses the code is dead and even the right one answers 429.
    """
    ident = identifier_parse(identifier)
    now = timezone.now()
    refusal: DomainError | None = None
    with transaction.atomic():
        challenge = otp_challenge_lock(company=company, identifier=ident.value)
        if challenge is None or challenge.expires_at <= now:
            refusal = NotFound("No code is pending for this identifier; request a new one.")
        elif challenge.attempts >= MAX_ATTEMPTS:
            refusal = OtpAttemptsExceeded()
        elif not hmac.compare_digest(challenge.code_digest, _code_digest(challenge.id, code)):
            challenge.attempts += 1
            challenge.save(update_fields=["attempts"])
            refusal = OtpInvalid()
        else:
            challenge.delete()
            if ident.kind == "cpf":
                customer = Customer.objects.get(company=company, cpf=ident.value)
                is_new = False
            else:
                enrolment = customer_find_or_create(company=company, **{ident.kind: ident.value})
                customer, is_new = enrolment.customer, enrolment.created
            token = secrets.token_urlsafe(32)
            OtpSession.objects.create(
                company=company,
                customer=customer,
                token_digest=session_token_digest(token),
                expires_at=now + SESSION_TTL,
            )
    if refusal is not None:
        raise refusal
    return OtpVerified(customer=customer, is_new=is_new, session_token=token)
