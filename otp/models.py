import hashlib
from datetime import timedelta

from django.db import models

from core.ids import new_id

# How long a code and a session live. The code's message, the API's description of the session and
# the request's ``expires_in`` are derived from these.
CODE_TTL = timedelta(minutes=5)
SESSION_TTL = timedelta(minutes=30)


class Channel(models.TextChoices):
    WHATSAPP = "whatsapp", "WhatsApp"
    SMS = "sms", "SMS"
    EMAIL = "email", "E-mail"


# The channels a code can be asked for on a phone; e-mail is what an e-mail identifier gets, and the
# fallback when a phone channel fails.
PHONE_CHANNELS = (Channel.WHATSAPP, Channel.SMS)


class OtpChallenge(models.Model):
    """The pending code for one identifier of one company. A new request replaces it (one row per
    identifier); only a keyed digest of the code is stored."""

    id = models.CharField(primary_key=True, max_length=27, default=new_id, editable=False)
    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="+")
    identifier = models.CharField(max_length=254, help_text="Normalised phone, e-mail or CPF.")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    code_digest = models.CharField(max_length=64)
    attempts = models.PositiveSmallIntegerField(default=0)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "identifier"], name="otp_challenge_unique_identifier")
        ]

    def __str__(self) -> str:
        return f"{self.channel} challenge {self.id}"


class OtpSession(models.Model):
    """Proof that a customer verified a code: sent back as ``X-OTP-Session``; stored as a digest."""

    id = models.CharField(primary_key=True, max_length=27, default=new_id, editable=False)
    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    token_digest = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"OTP session {self.id} for {self.customer_id}"


def session_token_digest(token: str) -> str:
    """What ``OtpSession.token_digest`` stores for a session token (the token itself is never kept)."""
    return hashlib.sha256(token.encode()).hexdigest()
