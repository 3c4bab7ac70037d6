"""The OTP flow end to end through HTTP. transaction=True: the services' own transactions commit."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from django.core import mail
from django.db import transaction
from pytest_django.fixtures import Settings

from companies.models import Company
from core.errors import ServiceUnavailable
from customers.models import Customer
from otp.models import OtpChallenge, OtpSession
from otp.services import otp_request
from tests.conftest import Api, assert_problem
from tests.factories import CompanyFactory, CustomerFactory, RewardFactory, make_key

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "+5511987654321"


@pytest.fixture
def strict() -> Company:
    return CompanyFactory.create(otp_preset="strict")


@pytest.fixture
def api(strict: Company) -> Api:
    return Api(make_key(strict))


def request_otp(api: Api, identifier: str) -> Any:
    return api.post("/api/v2/auth/request-otp/", {"identifier": identifier})


def verify_otp(api: Api, identifier: str, code: str) -> Any:
    return api.post("/api/v2/auth/verify-otp/", {"identifier": identifier, "otp_code": code})


def test_request_verify_and_redeem_with_the_console_senders_code(api, strict, otp_log):
    customer = CustomerFactory.create(company=strict, phone=PHONE, points=500)
    reward = RewardFactory.create(company=strict, points_required=200)
    assert_problem(api.redeem(customer.pk, reward.pk), 403, "otp-required", "otp_required")

    sent = request_otp(api, "(11) 98765-4321")
    assert sent.status_code == 200, sent.content
    assert sent.json()["data"] == {"status": "sent", "channel": "whatsapp", "expires_in": 300}
    assert any(line.startswith("OTP for +55*******4321: ") for line in otp_log.lines())

    verified = verify_otp(api, PHONE, otp_log.last_code())
    assert verified.status_code == 200, verified.content
    data = verified.json()["data"]
    assert (data["customer_id"], data["is_new"], data["points_balance"]) == (customer.pk, False, 500)
    assert set(data) == {"customer_id", "is_new", "otp_session", "full_name", "points_balance", "tier"}

    redeemed = api.post(
        f"/api/v2/customers/{customer.pk}/rewards/{reward.pk}/redeem/",
        {},
        HTTP_X_OTP_SESSION=data["otp_session"],
    )
    assert redeemed.status_code == 200, redeemed.content


def test_the_code_is_stored_only_as_a_digest_and_is_single_use(api, otp_log):
    request_otp(api, PHONE)
    code = otp_log.last_code()
    stored = OtpChallenge.objects.values().get()
    assert code not in json.dumps(stored, default=str)
    assert verify_otp(api, PHONE, code).status_code == 200
    assert_problem(verify_otp(api, PHONE, code), 404, "not-found")


def test_verify_enrols_a_new_customer(api, strict, otp_log):
    request_otp(api, "new.customer@example.com")
    assert mail.outbox and len(mail.outbox) == 1
    code = next(word for word in mail.outbox[0].body.split() if word.isdigit() and len(word) == 6)
    data = verify_otp(api, "NEW.customer@example.com", code).json()["data"]
    assert data["is_new"] is True
    customer = Customer.objects.get(pk=data["customer_id"])
    assert (customer.company_id, customer.email) == (strict.pk, "new.customer@example.com")


def test_a_new_request_replaces_the_pending_code(api, otp_log):
    request_otp(api, PHONE)
    first = otp_log.last_code()
    request_otp(api, PHONE)
    second = otp_log.last_code()
    assert OtpChallenge.objects.count() == 1
    if first != second:
        assert_problem(verify_otp(api, PHONE, first), 401, "authentication-required", "otp_invalid")
    assert verify_otp(api, PHONE, second).status_code == 200


def test_five_wrong_codes_kill_the_code_even_for_the_right_one(api, otp_log):
    request_otp(api, PHONE)
    right = otp_log.last_code()
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    for _ in range(5):
        assert_problem(verify_otp(api, PHONE, wrong), 401, "authentication-required", "otp_invalid")
    response = verify_otp(api, PHONE, right)
    assert_problem(response, 429, "rate-limit-exceeded", "otp_attempts_exceeded")
    assert not OtpSession.objects.exists()


def test_verify_without_a_pending_code_is_404(api):
    assert_problem(verify_otp(api, PHONE, "123456"), 404, "not-found")


def test_the_code_expires_after_five_minutes(api, otp_log, clock):
    request_otp(api, PHONE)
    clock.advance(minutes=5, seconds=1)
    assert_problem(verify_otp(api, PHONE, otp_log.last_code()), 404, "not-found")


def test_the_session_expires_after_thirty_minutes(api, strict, otp_log, clock):
    customer = CustomerFactory.create(company=strict, phone=PHONE, points=1000)
    reward = RewardFactory.create(company=strict, points_required=1)
    request_otp(api, PHONE)
    session = verify_otp(api, PHONE, otp_log.last_code()).json()["data"]["otp_session"]
    url = f"/api/v2/customers/{customer.pk}/rewards/{reward.pk}/redeem/"
    clock.advance(minutes=29)
    assert api.post(url, {}, HTTP_X_OTP_SESSION=session).status_code == 200
    clock.advance(minutes=1, seconds=1)
    assert_problem(api.post(url, {}, HTTP_X_OTP_SESSION=session), 403, "otp-required", "otp_required")


def test_a_session_for_customer_a_is_refused_for_customer_b(api, strict, otp_log):
    CustomerFactory.create(company=strict, phone=PHONE, points=1000)
    other = CustomerFactory.create(company=strict, points=1000)
    reward = RewardFactory.create(company=strict, points_required=1)
    request_otp(api, PHONE)
    session = verify_otp(api, PHONE, otp_log.last_code()).json()["data"]["otp_session"]
    response = api.post(
        f"/api/v2/customers/{other.pk}/rewards/{reward.pk}/redeem/", {}, HTTP_X_OTP_SESSION=session
    )
    assert_problem(response, 403, "otp-required", "otp_required")


def test_a_session_of_another_company_is_refused(api, strict, otp_log):
    elsewhere = CompanyFactory.create(otp_preset="strict")
    their_api = Api(make_key(elsewhere))
    CustomerFactory.create(company=elsewhere, phone=PHONE)
    mine = CustomerFactory.create(company=strict, phone=PHONE, points=10)
    reward = RewardFactory.create(company=strict, points_required=1)
    request_otp(their_api, PHONE)
    session = verify_otp(their_api, PHONE, otp_log.last_code()).json()["data"]["otp_session"]
    response = api.post(
        f"/api/v2/customers/{mine.pk}/rewards/{reward.pk}/redeem/", {}, HTTP_X_OTP_SESSION=session
    )
    assert_problem(response, 403, "otp-required", "otp_required")


def test_requests_per_identifier_are_limited_with_retry_after(api, otp_log):
    for _ in range(5):
        assert request_otp(api, PHONE).status_code == 200
    response = request_otp(api, PHONE)
    assert_problem(response, 429, "rate-limit-exceeded")
    assert 0 < int(response["Retry-After"]) <= 600
    assert request_otp(api, "+5511900001111").status_code == 200


def test_one_customers_identifiers_share_one_budget(api, strict, otp_log):
    """Phone, e-mail and CPF of one customer: 5 codes in a window between them, not 5 each."""
    CustomerFactory.create(company=strict, phone=PHONE, email="ana@example.com", cpf="52998224725")
    identifiers = [PHONE, "ana@example.com", "529.982.247-25", PHONE, "ana@example.com"]
    assert [request_otp(api, identifier).status_code for identifier in identifiers] == [200] * 5
    for identifier in (PHONE, "ANA@example.com", "52998224725"):
        assert_problem(request_otp(api, identifier), 429, "rate-limit-exceeded")
    # Another customer, and a number no customer has yet, keep budgets of their own.
    CustomerFactory.create(company=strict, phone="+5511900002222")
    assert request_otp(api, "+5511900002222").status_code == 200
    assert request_otp(api, "+5511900003333").status_code == 200


def test_requests_per_company_are_limited(api, settings, otp_log):
    settings.OTP_REQUESTS_PER_COMPANY = 3
    for number in range(3):
        assert request_otp(api, f"+55119000011{number:02d}").status_code == 200
    assert_problem(request_otp(api, "+5511900001199"), 429, "rate-limit-exceeded")


def test_a_cpf_receives_its_code_on_the_customers_phone(api, strict, otp_log):
    customer = CustomerFactory.create(company=strict, phone=PHONE, cpf="52998224725")
    sent = request_otp(api, "529.982.247-25").json()["data"]
    assert sent["channel"] == "whatsapp"
    assert any("+55*******4321" in line for line in otp_log.lines())
    data = verify_otp(api, "52998224725", otp_log.last_code()).json()["data"]
    assert (data["customer_id"], data["is_new"]) == (customer.pk, False)
    assert_problem(request_otp(api, "111.444.777-35"), 404, "not-found")


@pytest.mark.parametrize("identifier", ["hello", "+1", "a@b", ""])
def test_bad_identifiers_are_422(api, identifier):
    assert_problem(request_otp(api, identifier), 422, "validation-error")


@pytest.mark.parametrize("code", ["12345", "1234567", "abcdef", "", "\u0661\u0662\u0663\u0664\u0665\u0666"])
def test_bad_code_format_is_422(api, code):
    assert_problem(verify_otp(api, PHONE, code), 422, "validation-error")


class Gateway(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []
    status = 200

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        Gateway.received.append(
            {"auth": self.headers["Authorization"], **json.loads(self.rfile.read(length))}
        )
        self.send_response(Gateway.status)
        if 300 <= Gateway.status < 400:
            self.send_header("Location", "/elsewhere")
        self.end_headers()

    def do_GET(self) -> None:
        Gateway.received.append({"followed": self.path})
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def gateway(settings: Settings) -> Iterator[type[Gateway]]:
    server = HTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Gateway.received, Gateway.status = [], 200
    settings.OTP_SENDERS = {**settings.OTP_SENDERS, "whatsapp": "otp.senders.HttpGatewaySender"}
    settings.OTP_GATEWAY_URL = f"http://127.0.0.1:{server.server_port}/send"
    settings.OTP_GATEWAY_TOKEN = "gateway-token"
    yield Gateway
    server.shutdown()


def test_http_gateway_sender_posts_the_code(api, gateway):
    assert request_otp(api, PHONE).status_code == 200
    (sent,) = gateway.received
    assert (sent["to"], sent["channel"], sent["auth"]) == (PHONE, "whatsapp", "Bearer gateway-token")
    assert verify_otp(api, PHONE, sent["code"]).status_code == 200


def test_gateway_failure_is_503_and_leaves_no_pending_code(api, gateway):
    gateway.status = 500
    assert_problem(request_otp(api, PHONE), 503, "service-unavailable")
    assert not OtpChallenge.objects.exists()


def test_called_in_a_transaction_a_failed_send_is_still_refused(strict, gateway):
    """The caller's transaction does not postpone the send past the answer: a send that fails is
    a 503 there too, and no code is left pending."""
    gateway.status = 500
    with transaction.atomic():
        with pytest.raises(ServiceUnavailable):
            otp_request(company=strict, identifier=PHONE)
        assert len(gateway.received) == 1
        assert not OtpChallenge.objects.exists()


def test_called_in_a_transaction_the_code_is_sent_before_the_answer(api, strict, gateway):
    with transaction.atomic():
        sent = otp_request(company=strict, identifier=PHONE)
        assert (sent.channel, len(gateway.received)) == ("whatsapp", 1)
    assert verify_otp(api, PHONE, gateway.received[0]["code"]).status_code == 200


@pytest.mark.parametrize("status", [302, 307])
def test_a_gateway_redirect_is_a_failure_and_is_not_followed(api, gateway, status):
    gateway.status = status
    assert_problem(request_otp(api, PHONE), 503, "service-unavailable")
    assert len(gateway.received) == 1 and "followed" not in gateway.received[0]
    assert not OtpChallenge.objects.exists()


def test_unreachable_gateway_is_503(api, settings):
    settings.OTP_SENDERS = {**settings.OTP_SENDERS, "whatsapp": "otp.senders.HttpGatewaySender"}
    settings.OTP_GATEWAY_URL = "http://127.0.0.1:9/nothing-listens-here"
    assert_problem(request_otp(api, PHONE), 503, "service-unavailable")
    assert not OtpChallenge.objects.exists()


def test_without_the_cache_no_code_is_sent_and_the_answer_is_503(api, redis_down):
    """The request limits are what stops code spraying: without them, refuse rather than send."""
    response = request_otp(api, "+5511987654321")
    body = assert_problem(response, 503, "service-unavailable")
    assert "retry" in body["detail"]
    assert response["Retry-After"] == "5"
    assert OtpChallenge.objects.count() == 0
