"""Google Wallet against a loopback Google (tests/wallet/google_receiver.py): issuing inserts the
company's class and the pass's object, the save link is a JWT signed by the service account that
names the object, and the outbox's jobs PATCH the object and add messages; a Google that does not
answer leaves nothing written at issue and a retryable result on jobs."""

import socket
from datetime import timedelta
from typing import Any

import jwt
import pytest
from django.utils import timezone

from coupons.models import Coupon
from tests.conftest import Api, assert_problem
from tests.factories import CouponFactory, CustomerFactory, make_key
from tests.wallet.google_receiver import CLIENT_EMAIL, ISSUER_ID, GoogleReceiver
from wallet.google.platform import GOOGLE, SAVE_URL
from wallet.models import JobKind, JobStatus, WalletDesign, WalletJob, WalletPass
from wallet.outbox import wallet_deliver_batch
from wallet.services import wallet_passes_touch

pytestmark = pytest.mark.django_db

LOYALTY = "/api/v2/wallet/passes/loyalty/"
COUPONS = "/api/v2/wallet/passes/coupons/"
NOTIFY = "/api/v2/wallet/notifications/"


def save_claims(pass_url: str, google: GoogleReceiver) -> dict[str, Any]:
    assert pass_url.startswith(SAVE_URL)
    claims: dict[str, Any] = jwt.decode(
        pass_url[len(SAVE_URL) :], google.public_key, algorithms=["RS256"], audience="google"
    )
    return claims


def issued(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.content
    data: dict[str, Any] = response.json()["data"]
    return data


def pending_jobs(wallet_pass_id: str, kind: str) -> list[WalletJob]:
    return list(WalletJob.objects.filter(wallet_pass_id=wallet_pass_id, kind=kind, status=JobStatus.PENDING))


@pytest.fixture
def customer_api() -> tuple[Any, Api]:
    customer = CustomerFactory.create(points=120)
    return customer, Api(make_key(customer.company))


def test_issue_the_card_inserts_class_and_object_and_the_save_link_names_it(google, customer_api):
    customer, api = customer_api
    data = issued(api.post(LOYALTY, {"customer_id": customer.pk, "platform": "google"}))

    object_id = f"{ISSUER_ID}.{data['id']}"
    (klass,) = google.api("POST", "loyaltyClass")
    assert klass.body["id"] == f"{ISSUER_ID}.{customer.company_id}-loyalty"
    assert klass.body["reviewStatus"] == "UNDER_REVIEW" and klass.body["hexBackgroundColor"] == "#1F2937"
    logo = klass.body["programLogo"]["sourceUri"]["uri"]
    assert logo.startswith("https://zupy.test/wallet/images/") and logo.endswith("/google-logo.png")
    stored = google.stored["loyaltyObject"][object_id]
    assert stored["classId"] == klass.body["id"] and stored["state"] == "ACTIVE"
    assert stored["accountId"] == customer.card_number
    assert stored["loyaltyPoints"]["balance"] == {"int": 120}
    assert stored["barcode"] == {
        "type": "QR_CODE",
        "value": customer.card_number,
        "alternateText": customer.card_number,
    }
    assert WalletPass.objects.get(pk=data["id"]).google_object_id == object_id

    claims = save_claims(data["pass_url"], google)
    assert claims["iss"] == CLIENT_EMAIL and claims["typ"] == "savetowallet"
    assert claims["origins"] == ["https://parceiro.example"]
    assert claims["payload"] == {"loyaltyObjects": [{"id": object_id}]}
    # Every API call carried a token the loopback token endpoint issued for a verified assertion.
    assert len(google.tokens) == 1


def test_the_class_is_written_once_and_again_after_the_design_changes(google, customer_api):
    customer, api = customer_api
    issued(api.post(LOYALTY, {"customer_id": customer.pk, "platform": "google"}))
    other = CustomerFactory.create(company=customer.company)
    issued(api.post(LOYALTY, {"customer_id": other.pk, "platform": "google"}))
    assert len(google.api("POST", "loyaltyClass")) == 1 and len(google.stored["loyaltyObject"]) == 2
    assert len(google.tokens) == 1  # the token is kept between calls

    design = WalletDesign.objects.get(company=customer.company)
    design.background_color, design.program_name = "#0A7F3F", "Clube Verde"
    design.save()
    third = CustomerFactory.create(company=customer.company)
    issued(api.post(LOYALTY, {"customer_id": third.pk, "platform": "google"}))
    # The class exists (409 on insert), so it is PATCHed to the new design.
    assert len(google.api("POST", "loyaltyClass")) == 2
    (patch,) = google.api("PATCH", "loyaltyClass")
    assert patch.path.endswith(f"/loyaltyClass/{ISSUER_ID}.{customer.company_id}-loyalty")
    (klass,) = google.stored["loyaltyClass"].values()
    assert (klass["hexBackgroundColor"], klass["programName"]) == ("#0A7F3F", "Clube Verde")


def test_points_added_patch_the_object_with_the_new_balance(google, customer_api):
    customer, api = customer_api
    data = issued(api.post(LOYALTY, {"customer_id": customer.pk, "platform": "google"}))
    added = api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 30})
    assert added.status_code in (200, 201), added.content

    (job,) = pending_jobs(data["id"], JobKind.GOOGLE_SYNC)
    result = GOOGLE.job_run(job=job)
    assert result.ok and result.status_code == 200
    (patch,) = google.api("PATCH", "loyaltyObject")
    assert patch.path.endswith(f"/loyaltyObject/{ISSUER_ID}.{data['id']}")
    assert patch.body["loyaltyPoints"]["balance"] == {"int": 150}
    assert google.stored["loyaltyObject"][f"{ISSUER_ID}.{data['id']}"]["loyaltyPoints"]["balance"] == {
        "int": 150
    }


def test_a_coupon_validated_to_no_uses_left_goes_inactive(google):
    coupon = CouponFactory.create(total_usages_allowed=1, remaining_usages=1)
    api = Api(make_key(coupon.company))
    data = issued(
        api.post(COUPONS, {"customer_id": coupon.customer_id, "coupon_id": coupon.pk, "platform": "google"})
    )
    object_id = f"{ISSUER_ID}.{data['id']}"
    (klass,) = google.api("POST", "offerClass")
    assert klass.body["id"] == f"{ISSUER_ID}.{coupon.company_id}-offer"
    assert klass.body["redemptionChannel"] == "INSTORE"
    stored = google.stored["offerObject"][object_id]
    assert stored["state"] == "ACTIVE" and stored["barcode"]["value"] == coupon.code
    assert stored["validTimeInterval"]["end"]["date"].endswith("Z")
    assert save_claims(data["pass_url"], google)["payload"] == {"offerObjects": [{"id": object_id}]}

    assert api.validate(coupon.customer_id, coupon.pk).status_code == 200
    (job,) = pending_jobs(data["id"], JobKind.GOOGLE_SYNC)
    assert GOOGLE.job_run(job=job).ok
    assert google.stored["offerObject"][object_id]["state"] == "INACTIVE"
    remaining = {m["id"]: m["body"] for m in google.stored["offerObject"][object_id]["textModulesData"]}
    assert remaining["remaining"] == "0"


def test_a_coupon_past_its_validity_is_expired_at_google(google):
    coupon = CouponFactory.create()
    api = Api(make_key(coupon.company))
    data = issued(
        api.post(COUPONS, {"customer_id": coupon.customer_id, "coupon_id": coupon.pk, "platform": "google"})
    )
    Coupon.objects.filter(pk=coupon.pk).update(valid_until=timezone.now() - timedelta(minutes=1))
    wallet_passes_touch(company_id=coupon.company_id, customer_id=coupon.customer_id, coupon_id=coupon.pk)
    (job,) = pending_jobs(data["id"], JobKind.GOOGLE_SYNC)
    assert GOOGLE.job_run(job=job).ok
    assert google.stored["offerObject"][f"{ISSUER_ID}.{data['id']}"]["state"] == "EXPIRED"


def test_a_notification_adds_a_message_to_the_object(google, customer_api):
    customer, api = customer_api
    data = issued(api.post(LOYALTY, {"customer_id": customer.pk, "platform": "google"}))
    sent = api.post(
        NOTIFY,
        {"customer_id": customer.pk, "type": "program_update", "message": "Dobro de pontos no sábado!"},
    )
    assert sent.status_code == 202, sent.content

    (job,) = pending_jobs(data["id"], JobKind.GOOGLE_MESSAGE)
    assert GOOGLE.job_run(job=job).ok
    (request,) = google.api("POST", "loyaltyObject")[1:]
    assert request.path.endswith(f"{ISSUER_ID}.{data['id']}/addMessage")
    message = request.body["message"]
    assert message == {
        "header": "Program Update",
        "body": "Dobro de pontos no sábado!",
        "id": job.pk,
        "messageType": "TEXT_AND_NOTIFY",
    }
    assert google.stored["loyaltyObject"][f"{ISSUER_ID}.{data['id']}"]["messages"] == [message]


def test_an_object_google_lost_is_inserted_again_by_the_sync(google, customer_api):
    customer, api = customer_api
    data = issued(api.post(LOYALTY, {"customer_id": customer.pk, "platform": "google"}))
    google.stored["loyaltyObject"].clear()
    api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 5})
    (job,) = pending_jobs(data["id"], JobKind.GOOGLE_SYNC)
    assert GOOGLE.job_run(job=job).ok
    assert google.stored["loyaltyObject"][f"{ISSUER_ID}.{data['id']}"]["loyaltyPoints"]["balance"] == {
        "int": 125
    }


def test_an_overloaded_google_gets_a_retry_with_its_retry_after(google, customer_api):
    customer, api = customer_api
    data = issued(api.post(LOYALTY, {"customer_id": customer.pk, "platform": "google"}))
    api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 5})
    (job,) = pending_jobs(data["id"], JobKind.GOOGLE_SYNC)
    google.fail_status, google.retry_after = 429, "7"
    result = GOOGLE.job_run(job=job)
    assert (result.ok, result.gone, result.status_code, result.retry_after) == (False, False, 429, 7.0)
    google.fail_status, google.retry_after = 503, None
    result = GOOGLE.job_run(job=job)
    assert (result.ok, result.status_code, result.retry_after) == (False, 503, None)
    google.fail_status = 400
    result = GOOGLE.job_run(job=job)
    assert (result.ok, result.status_code) == (False, 400) and "400" in result.error


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_google_down_refuses_the_issue_and_writes_nothing(google, customer_api, settings):
    customer, api = customer_api
    down = f"http://127.0.0.1:{closed_port()}"
    settings.WALLET_GOOGLE_TOKEN_URL = f"{down}/token"
    response = api.post(LOYALTY, {"customer_id": customer.pk, "platform": "google"})
    assert_problem(response, 503, "wallet-temporarily-unavailable", "wallet_temporarily_unavailable")
    assert response["Retry-After"] == "30"
    assert not WalletPass.objects.filter(customer=customer).exists()

    # The token is there, the API is not.
    settings.WALLET_GOOGLE_TOKEN_URL = google.token_url
    settings.WALLET_GOOGLE_API_URL = f"{down}/walletobjects/v1"
    assert_problem(
        api.post(LOYALTY, {"customer_id": customer.pk, "platform": "google"}),
        503,
        "wallet-temporarily-unavailable",
        "wallet_temporarily_unavailable",
    )
    assert not WalletPass.objects.filter(customer=customer).exists() and not WalletJob.objects.exists()


def test_google_refusing_the_object_refuses_the_issue(google, customer_api):
    customer, api = customer_api
    google.fail_status = 500
    assert_problem(
        api.post(LOYALTY, {"customer_id": customer.pk, "platform": "google"}),
        503,
        "wallet-temporarily-unavailable",
        "wallet_temporarily_unavailable",
    )
    assert not WalletPass.objects.filter(customer=customer).exists()


def test_google_down_gives_jobs_a_retryable_result(google, customer_api, settings):
    customer, api = customer_api
    data = issued(api.post(LOYALTY, {"customer_id": customer.pk, "platform": "google"}))
    api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 5})
    (job,) = pending_jobs(data["id"], JobKind.GOOGLE_SYNC)
    settings.WALLET_GOOGLE_API_URL = f"http://127.0.0.1:{closed_port()}/walletobjects/v1"
    result = GOOGLE.job_run(job=job)
    assert (result.ok, result.gone) == (False, False) and "no answer" in result.error


def test_without_credentials_google_is_not_configured(settings, customer_api, tmp_path):
    customer, api = customer_api
    settings.WALLET_GOOGLE_ISSUER_ID = ISSUER_ID
    settings.WALLET_GOOGLE_SERVICE_ACCOUNT_FILE = str(tmp_path / "missing.json")
    assert not GOOGLE.configured()
    (tmp_path / "bad.json").write_text('{"client_email": "x@example.com", "private_key": "not a key"}')
    settings.WALLET_GOOGLE_SERVICE_ACCOUNT_FILE = str(tmp_path / "bad.json")
    assert not GOOGLE.configured()
    assert_problem(
        api.post(LOYALTY, {"customer_id": customer.pk, "platform": "google"}),
        503,
        "wallet-temporarily-unavailable",
        "wallet_temporarily_unavailable",
    )


@pytest.mark.django_db(transaction=True)
def test_the_wallet_worker_sends_the_sync_from_its_sender_thread(google, customer_api):
    # The sender thread reads the pass on its own connection (closed after): the committed balance.
    customer, api = customer_api
    data = issued(api.post(LOYALTY, {"customer_id": customer.pk, "platform": "google"}))
    api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 80})
    assert wallet_deliver_batch() == 1
    (job,) = WalletJob.objects.filter(wallet_pass_id=data["id"], kind=JobKind.GOOGLE_SYNC)
    assert (job.status, job.attempts, job.last_status_code) == (JobStatus.SUCCEEDED, 1, 200)
    assert google.stored["loyaltyObject"][f"{ISSUER_ID}.{data['id']}"]["loyaltyPoints"]["balance"] == {
        "int": 200
    }


def test_a_revoked_token_is_replaced_on_the_next_call(google, customer_api):
    customer, api = customer_api
    data = issued(api.post(LOYALTY, {"customer_id": customer.pk, "platform": "google"}))
    api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 5})
    (job,) = pending_jobs(data["id"], JobKind.GOOGLE_SYNC)
    google.tokens.clear()
    first = GOOGLE.job_run(job=job)
    assert (first.ok, first.status_code) == (False, 401)
    assert GOOGLE.job_run(job=job).ok
    assert len(google.tokens) == 1 and len(google.api("POST")) == 2  # the class and the object, once
