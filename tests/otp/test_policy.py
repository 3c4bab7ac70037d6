"""Each preset against each protected action, without and with an OTP session."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from companies.models import Company
from customers.models import Customer
from otp.models import OtpSession, session_token_digest
from tests.conftest import Api, assert_problem
from tests.factories import CompanyFactory, CouponFactory, CustomerFactory, RewardFactory, make_key

pytestmark = pytest.mark.django_db

REQUIRED = {
    "strict": {"enrollment", "redemption", "coupon_usage"},
    "relaxed": {"redemption", "coupon_usage"},
    "trusted": set(),
}
PHONE = "+5511987654321"


def session_for(customer: Customer) -> str:
    token = f"test-session-{customer.pk}"
    OtpSession.objects.create(
        company=customer.company, customer=customer, token_digest=session_token_digest(token),
        expires_at=timezone.now() + timedelta(minutes=30),
    )  # fmt: skip
    return token


def attempt(
    action: str, api: Api, company: Company, headers: dict[str, str], customer: Customer | None = None
) -> tuple[Customer, Any]:
    customer = customer or CustomerFactory.create(company=company, phone=PHONE, points=1000)
    if action == "redemption":
        reward = RewardFactory.create(company=company, points_required=10)
        return customer, api.post(
            f"/api/v2/customers/{customer.pk}/rewards/{reward.pk}/redeem/", {}, **headers
        )
    if action == "coupon_usage":
        coupon = CouponFactory.create(customer=customer)
        return customer, api.post(f"/api/v2/customers/{customer.pk}/coupons/{coupon.pk}/validate/", **headers)
    return customer, api.post("/api/v2/customers/", {"phone": customer.phone}, **headers)


@pytest.mark.parametrize("preset", REQUIRED)
@pytest.mark.parametrize("action", ["enrollment", "redemption", "coupon_usage"])
def test_policy_presets_guard_their_actions(preset, action):
    company = CompanyFactory.create(otp_preset=preset)
    api = Api(make_key(company))
    _, response = attempt(action, api, company, {})
    if action in REQUIRED[preset]:
        assert_problem(response, 403, "otp-required", "otp_required")
    else:
        assert response.status_code in (200, 201), response.content


@pytest.mark.parametrize("action", ["enrollment", "redemption", "coupon_usage"])
def test_a_valid_session_opens_every_action_under_strict(action):
    company = CompanyFactory.create(otp_preset="strict")
    api = Api(make_key(company))
    customer = CustomerFactory.create(company=company, phone=PHONE, points=1000)
    _, response = attempt(action, api, company, {"HTTP_X_OTP_SESSION": session_for(customer)}, customer)
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("action", ["enrollment", "redemption", "coupon_usage"])
def test_an_otp_refusal_is_not_replayed_to_the_retry_that_brings_a_session(action):
    """The till retries with the same Idempotency-Key once the customer has verified: the 403 came
    before the operation, so it is not stored (only the header changed, which the key's
    fingerprint does not cover)."""
    company = CompanyFactory.create(otp_preset="strict")
    api = Api(make_key(company))
    customer = CustomerFactory.create(company=company, phone=PHONE, points=1000)
    body: dict[str, str] | None = {"phone": PHONE}
    path = "/api/v2/customers/"
    if action == "redemption":
        path, body = f"{path}{customer.pk}/rewards/{RewardFactory.create(company=company).pk}/redeem/", {}
    elif action == "coupon_usage":
        path, body = (
            f"{path}{customer.pk}/coupons/{CouponFactory.create(customer=customer).pk}/validate/",
            None,
        )
    refused = api.post(path, body, HTTP_IDEMPOTENCY_KEY="till-1-sale-7")
    assert_problem(refused, 403, "otp-required", "otp_required")
    retried = api.post(
        path, body, HTTP_IDEMPOTENCY_KEY="till-1-sale-7", HTTP_X_OTP_SESSION=session_for(customer)
    )
    assert retried.status_code == 200, retried.content
    assert "Idempotent-Replayed" not in retried


@pytest.mark.parametrize("action", ["enrollment", "redemption", "coupon_usage"])
def test_another_customers_session_is_refused_under_strict(action):
    company = CompanyFactory.create(otp_preset="strict")
    api = Api(make_key(company))
    token = session_for(CustomerFactory.create(company=company, phone="+5511900000099"))
    _, response = attempt(action, api, company, {"HTTP_X_OTP_SESSION": token})
    assert_problem(response, 403, "otp-required", "otp_required")


def test_strict_enrolment_of_someone_else_is_refused_and_creates_nobody():
    company = CompanyFactory.create(otp_preset="strict")
    api = Api(make_key(company))
    token = session_for(CustomerFactory.create(company=company, phone="+5511900000099"))
    response = api.post("/api/v2/customers/", {"phone": "+5511900000011"}, HTTP_X_OTP_SESSION=token)
    assert_problem(response, 403, "otp-required", "otp_required")
    assert not company.customers.filter(phone="+5511900000011").exists()


def test_trust_partner_validation_waives_the_requirements():
    company = CompanyFactory.create(otp_preset="strict")
    company.trust_partner_validation = True
    company.save()
    _, response = attempt("redemption", Api(make_key(company)), company, {})
    assert response.status_code == 200


def test_a_new_company_is_strict():
    assert Company.objects.create(name="New").otp_preset == "strict"
