"""What the OTP texts say about lifetimes is what the code and the session are given."""

from datetime import timedelta

import pytest
from django.test import Client

from core.timefmt import duration_words
from otp import senders
from otp.models import SESSION_TTL

pytestmark = pytest.mark.django_db


def test_the_message_names_the_codes_lifetime(monkeypatch):
    monkeypatch.setattr(senders, "CODE_TTL", timedelta(minutes=10))
    assert senders.message("123456", "Cantina") == (
        "123456 is your Cantina verification code. It expires in 10 minutes."
    )


def test_the_schema_names_the_sessions_lifetime():
    schema = Client().get("/api/v2/schema/?format=json").json()
    described = schema["components"]["schemas"]["VerifyOtpOut"]["properties"]["otp_session"]["description"]
    assert described == f"Send as X-OTP-Session; valid {duration_words(SESSION_TTL)} for this customer."
