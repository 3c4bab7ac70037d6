"""Delivery channels through HTTP: the e-mail fallback when the phone send fails, and `channel: sms`
through a configured sender. Fake senders record what they were asked to send."""

from typing import Any, ClassVar

import pytest
from pytest_django.fixtures import Settings

from companies.models import Company
from otp.models import OtpChallenge
from otp.senders import DeliveryFailed
from tests.conftest import Api, assert_problem
from tests.factories import CompanyFactory, CustomerFactory, make_key

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "+5511987654321"
EMAIL = "maria@example.com"
CPF = "52998224725"


class Recorder:
    """A sender that records each send; ``fails`` makes it raise as a broken gateway does."""

    sent: ClassVar[list[dict[str, str]]] = []
    fails: ClassVar[bool] = False

    def send(self, *, channel: str, destination: str, code: str, company_name: str) -> None:
        type(self).sent.append({"channel": channel, "to": destination, "code": code})
        if type(self).fails:
            raise DeliveryFailed("fake gateway down")


class PhoneSender(Recorder):
    sent: ClassVar[list[dict[str, str]]] = []
    fails: ClassVar[bool] = False


class SmsSender(Recorder):
    sent: ClassVar[list[dict[str, str]]] = []
    fails: ClassVar[bool] = False


class MailSender(Recorder):
    sent: ClassVar[list[dict[str, str]]] = []
    fails: ClassVar[bool] = False


@pytest.fixture(autouse=True)
def senders(settings: Settings) -> None:
    for sender in (PhoneSender, SmsSender, MailSender):
        sender.sent, sender.fails = [], False
    settings.OTP_SENDERS = {
        "whatsapp": f"{__name__}.PhoneSender",
        "email": f"{__name__}.MailSender",
        "sms": f"{__name__}.SmsSender",
    }


@pytest.fixture
def shop() -> Company:
    return CompanyFactory.create(otp_preset="strict")


class FormatApi(Api):
    def __init__(self, key: str, response_format: str) -> None:
        super().__init__(key)
        self.response_format = response_format


@pytest.fixture(params=["envelope", "root"])
def api(request: pytest.FixtureRequest, shop: Company) -> FormatApi:
    return FormatApi(make_key(shop, response_format=request.param), request.param)


def answer(api: FormatApi, response: Any) -> Any:
    """The answer's object, after checking it has the shape of the key's response format."""
    assert response.status_code == 200, response.content
    body = response.json()
    if api.response_format == "envelope":
        assert set(body) == {"data", "meta"}
        return body["data"]
    assert "data" not in body
    return body


def request_otp(api: Api, identifier: str, **extra: str) -> Any:
    return api.post("/api/v2/auth/request-otp/", {"identifier": identifier, **extra})


def verify(api: Api, identifier: str, code: str) -> Any:
    return api.post("/api/v2/auth/verify-otp/", {"identifier": identifier, "otp_code": code})


def test_a_failed_whatsapp_send_falls_back_to_the_customers_email(api, shop):
    CustomerFactory.create(company=shop, phone=PHONE, email=EMAIL)
    PhoneSender.fails = True
    response = request_otp(api, PHONE)
    assert answer(api, response) == {"status": "sent", "channel": "email", "expires_in": 300}
    assert [s["to"] for s in PhoneSender.sent] == [PHONE]
    (mailed,) = MailSender.sent
    assert (mailed["channel"], mailed["to"]) == ("email", EMAIL)
    assert OtpChallenge.objects.get().channel == "email"
    assert verify(api, PHONE, mailed["code"]).status_code == 200


def test_a_working_whatsapp_send_does_not_touch_the_email(api, shop):
    CustomerFactory.create(company=shop, phone=PHONE, email=EMAIL)
    response = request_otp(api, PHONE)
    assert answer(api, response)["channel"] == "whatsapp"
    assert len(PhoneSender.sent) == 1 and MailSender.sent == []


def test_a_cpf_falls_back_to_the_email_of_its_customer(api, shop):
    CustomerFactory.create(company=shop, phone=PHONE, email=EMAIL, cpf=CPF)
    PhoneSender.fails = True
    response = request_otp(api, CPF)
    assert answer(api, response)["channel"] == "email"
    assert MailSender.sent[0]["to"] == EMAIL


def test_without_an_email_a_failed_whatsapp_send_is_still_503(api, shop):
    CustomerFactory.create(company=shop, phone=PHONE, email=None)
    PhoneSender.fails = True
    assert_problem(request_otp(api, PHONE), 503, "service-unavailable")
    assert MailSender.sent == [] and not OtpChallenge.objects.exists()


def test_an_unknown_phone_has_no_email_to_fall_back_to(api):
    PhoneSender.fails = True
    assert_problem(request_otp(api, PHONE), 503, "service-unavailable")
    assert MailSender.sent == [] and not OtpChallenge.objects.exists()


def test_when_the_fallback_fails_too_no_code_is_left_pending(api, shop):
    CustomerFactory.create(company=shop, phone=PHONE, email=EMAIL)
    PhoneSender.fails = MailSender.fails = True
    assert_problem(request_otp(api, PHONE), 503, "service-unavailable")
    assert len(MailSender.sent) == 1 and not OtpChallenge.objects.exists()


def test_channel_sms_goes_through_the_sms_sender(api, shop):
    response = request_otp(api, PHONE, channel="sms")
    assert answer(api, response) == {"status": "sent", "channel": "sms", "expires_in": 300}
    (sent,) = SmsSender.sent
    assert (sent["channel"], sent["to"]) == ("sms", PHONE) and PhoneSender.sent == []
    assert OtpChallenge.objects.get().channel == "sms"
    assert verify(api, PHONE, sent["code"]).status_code == 200


def test_a_failed_sms_send_falls_back_to_the_email_too(api, shop):
    CustomerFactory.create(company=shop, phone=PHONE, email=EMAIL)
    SmsSender.fails = True
    assert answer(api, request_otp(api, PHONE, channel="sms"))["channel"] == "email"


def test_channel_sms_without_a_configured_sender_is_refused_before_anything_is_stored(api, settings):
    settings.OTP_SENDERS = {k: v for k, v in settings.OTP_SENDERS.items() if k != "sms"}
    body = assert_problem(request_otp(api, PHONE, channel="sms"), 422, "validation-error")
    assert body["errors"][0]["field"] == "channel"
    assert "sms" in body["detail"]
    assert SmsSender.sent == PhoneSender.sent == [] and not OtpChallenge.objects.exists()


def test_channel_sms_for_an_email_identifier_is_refused(api):
    body = assert_problem(request_otp(api, EMAIL, channel="sms"), 422, "validation-error")
    assert body["errors"][0]["field"] == "channel"
    assert MailSender.sent == []


def test_an_unknown_channel_is_a_validation_error(api):
    response = request_otp(api, PHONE, channel="pigeon")
    assert 400 <= response.status_code < 500
    assert response["Content-Type"].startswith("application/problem+json")
    assert PhoneSender.sent == []
