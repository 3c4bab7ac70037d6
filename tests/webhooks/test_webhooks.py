import hashlib
import hmac
import json
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from companies.services import loyalty_program_save
from coupons.models import CouponStatus
from coupons.services import coupon_cancel, coupon_expire_due, coupon_redeem
from tests.conftest import Api, assert_problem, run_together
from tests.factories import CompanyFactory, CouponFactory, CustomerFactory, RewardFactory, make_key
from tests.webhooks.conftest import Receiver
from tests.webhooks.steps import deliver_next
from webhooks.models import EVENTS, WebhookDelivery

pytestmark = pytest.mark.django_db(transaction=True)


def configure(api: Api, url: str, events: list[str] | None = None) -> Any:
    body = {"webhook_url": url} | ({"webhook_events": events} if events is not None else {})
    response = api.client.put("/api/v2/integrations/webhooks/", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()["data"]


def deliver_all() -> None:
    while deliver_next() is not None:
        pass


@pytest.fixture
def shop(receiver: Receiver) -> dict[str, Any]:
    company = CompanyFactory.create()
    api = Api(make_key(company))
    config = configure(api, receiver.url)
    customer = CustomerFactory.create(company=company, points=1000)
    reward = RewardFactory.create(company=company, points_required=100)
    return {
        "company": company,
        "api": api,
        "secret": config["webhook_secret"],
        "customer": customer,
        "reward": reward,
    }


def test_configuration_shows_the_secret_once_then_masked(receiver):
    api = Api(make_key(CompanyFactory.create()))
    empty = api.get("/api/v2/integrations/webhooks/").json()["data"]
    assert empty == {
        "webhook_url": None,
        "webhook_events": [],
        "webhook_secret": None,
        "available_events": list(EVENTS),
    }
    first = configure(api, receiver.url, ["coupon.used"])
    assert first["webhook_secret"].startswith("whsec_") and first["webhook_events"] == ["coupon.used"]
    again = api.get("/api/v2/integrations/webhooks/").json()["data"]
    assert again["webhook_secret"].endswith(first["webhook_secret"][-4:]) and "*" in again["webhook_secret"]
    assert configure(api, receiver.url)["webhook_secret"] == again["webhook_secret"]


@pytest.mark.parametrize(
    ("url", "allow_http", "allow_private"),
    [
        ("http://example.com/hook", False, False),
        ("https://127.0.0.1/hook", True, False),
        ("https://10.0.0.8/hook", True, False),
        ("https://[::1]/hook", True, False),
        ("https://169.254.169.254/latest/meta-data", True, False),
        ("https://user:pw@example.com/hook", True, True),
        ("ftp://example.com/hook", True, True),
    ],
)
def test_unsafe_urls_are_refused(settings, url, allow_http, allow_private):
    settings.WEBHOOK_ALLOW_HTTP, settings.WEBHOOK_ALLOW_PRIVATE = allow_http, allow_private
    api = Api(make_key(CompanyFactory.create()))
    response = api.client.put("/api/v2/integrations/webhooks/", {"webhook_url": url}, format="json")
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"][0]["field"] == "webhook_url"


def test_unknown_events_are_refused():
    api = Api(make_key(CompanyFactory.create()))
    response = api.client.put(
        "/api/v2/integrations/webhooks/", {"webhook_events": ["coupon.eaten"]}, format="json"
    )
    assert_problem(response, 422, "validation-error")


def test_a_redeem_and_validate_are_delivered_signed(shop, receiver):
    api, customer = shop["api"], shop["customer"]
    coupon_id = api.redeem(customer.pk, shop["reward"].pk).json()["data"]["coupon_id"]
    api.validate(customer.pk, coupon_id)
    deliver_all()
    assert receiver.events() == ["reward.redeemed", "points.spent", "coupon.used"]
    for item in receiver.received:
        headers, body = item["headers"], item["body"]
        secret = shop["secret"].encode()
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Webhook-Signature"], expected)
        timestamped = hmac.new(secret, headers["X-Webhook-Timestamp"].encode() + b"." + body, hashlib.sha256)
        assert headers["X-Webhook-Timestamp-Signature"] == "sha256=" + timestamped.hexdigest()
        assert headers["User-Agent"] == "Zupy-Webhook/1.0"
        assert headers["X-Webhook-Id"] == item["json"]["webhook_id"]
        assert headers["X-Webhook-Event"] == item["json"]["event"]
        assert set(item["json"]) == {"event", "webhook_id", "timestamp", "data"}
    used = receiver.received[-1]["json"]["data"]
    assert (used["coupon_id"], used["remaining_usages"]) == (coupon_id, 0)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}


def test_every_event_kind_is_emitted(shop, receiver):
    api, company = shop["api"], shop["company"]
    program = company.loyalty_program
    program.tiers_enabled = True  # the points added below lift the customer from default to bronze
    loyalty_program_save(program=program)
    api.post("/api/v2/customers/", {"phone": "+5511912340000"})
    api.post(f"/api/v2/customers/{shop['customer'].pk}/points/add/", {"amount": 5})
    coupon_id = api.redeem(shop["customer"].pk, shop["reward"].pk).json()["data"]["coupon_id"]
    coupon_cancel(coupon_id=coupon_id)
    api.validate(shop["customer"].pk, CouponFactory.create(customer=shop["customer"]).pk)
    CouponFactory.create(customer=shop["customer"], valid_until=timezone.now() - timedelta(minutes=1))
    CouponFactory.create(customer=shop["customer"], valid_until=timezone.now() + timedelta(days=1))
    call_command("expire_coupons", stdout=StringIO())
    deliver_all()
    assert set(EVENTS) - set(receiver.events()) == set()
    assert company.pk


def test_only_subscribed_events_are_sent(receiver):
    company = CompanyFactory.create()
    api = Api(make_key(company))
    configure(api, receiver.url, ["coupon.used"])
    customer = CustomerFactory.create(company=company, points=1000)
    coupon_id = api.redeem(customer.pk, RewardFactory.create(company=company, points_required=1).pk).json()[
        "data"
    ]["coupon_id"]
    api.validate(customer.pk, coupon_id)
    deliver_all()
    assert receiver.events() == ["coupon.used"]


def test_a_rolled_back_redeem_emits_nothing(shop, receiver):
    with pytest.raises(RuntimeError), transaction.atomic():
        coupon_redeem(
            company=shop["company"], customer_id=shop["customer"].pk, reward_id=shop["reward"].pk,
            use_z_tokens=False, api_key=None,
        )  # fmt: skip
        assert WebhookDelivery.objects.count() == 2
        raise RuntimeError("the till crashed after redeeming")
    assert not WebhookDelivery.objects.exists()
    deliver_all()
    assert receiver.received == []


def test_a_500_is_retried_until_it_succeeds(shop, receiver):
    receiver.script = [500, 503]
    shop["api"].post(f"/api/v2/customers/{shop['customer'].pk}/points/add/", {"amount": 1})
    deliver_all()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 3, 200)
    assert [a.status_code for a in delivery.attempt_log.all()] == [500, 503, 200]
    assert len({item["json"]["webhook_id"] for item in receiver.received}) == 1


def test_a_timeout_is_retried_and_four_failures_mark_it_failed(shop, receiver, settings):
    settings.WEBHOOK_TIMEOUT = 0.3
    receiver.script = [("sleep", 0.6), 500, 500, 500]
    shop["api"].post(f"/api/v2/customers/{shop['customer'].pk}/points/add/", {"amount": 1})
    deliver_all()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("exhausted", 4)
    attempt = delivery.attempt_log.first()
    assert attempt is not None and "timed out" in attempt.error.lower()


def test_retries_wait_1_4_16_seconds_by_default(shop, receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS = [1.0, 4.0, 16.0]
    receiver.script = [500]
    shop["api"].post(f"/api/v2/customers/{shop['customer'].pk}/points/add/", {"amount": 1})
    before = timezone.now()
    deliver_next()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1
    assert (
        before + timedelta(seconds=0.9) <= delivery.next_attempt_at <= timezone.now() + timedelta(seconds=1.1)
    )
    assert deliver_next() is None  # not due yet


def test_two_workers_deliver_each_event_once(shop, receiver):
    api, customer = shop["api"], shop["customer"]
    for _ in range(15):
        api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 1})

    def worker() -> int:
        made = 0
        while deliver_next() is not None:
            made += 1
        return made

    made = run_together(2, worker)
    assert sum(made) == 15
    ids = [item["json"]["webhook_id"] for item in receiver.received]
    assert len(ids) == 15 and len(set(ids)) == 15


def test_the_test_endpoint_pings(shop, receiver):
    response = shop["api"].post("/api/v2/integrations/webhooks/test/")
    assert response.json()["data"] == {"success": True, "status_code": 200, "error": None}
    assert receiver.events() == ["ping"]
    receiver.script = [500]
    failed = shop["api"].post("/api/v2/integrations/webhooks/test/").json()["data"]
    assert (failed["success"], failed["status_code"]) == (False, 500)


def test_expire_coupons_is_idempotent(shop, receiver):
    lapsed = CouponFactory.create(
        customer=shop["customer"], valid_until=timezone.now() - timedelta(seconds=1)
    )
    soon = CouponFactory.create(customer=shop["customer"], valid_until=timezone.now() + timedelta(days=2))
    CouponFactory.create(customer=shop["customer"], valid_until=timezone.now() + timedelta(days=20))
    first, second = coupon_expire_due(), coupon_expire_due()
    assert (first.expired, first.expiring, second.expired, second.expiring) == (1, 1, 0, 0)
    lapsed.refresh_from_db()
    soon.refresh_from_db()
    assert lapsed.status == CouponStatus.EXPIRED and soon.expiring_notified_at is not None
    deliver_all()
    assert sorted(receiver.events()) == ["coupon.expired", "coupon.expiring"]


def test_webhook_worker_command_runs_once(shop, receiver):
    shop["api"].post(f"/api/v2/customers/{shop['customer'].pk}/points/add/", {"amount": 1})
    out = StringIO()
    call_command("webhook_worker", "--once", stdout=out)
    assert "1 attempt" in out.getvalue() and receiver.events() == ["points.earned"]
    assert json.loads(receiver.received[0]["body"])["data"]["amount"] == 1


def test_the_test_endpoint_needs_a_configured_url():
    api = Api(make_key(CompanyFactory.create()))
    body = assert_problem(api.post("/api/v2/integrations/webhooks/test/"), 422, "validation-error")
    assert body["errors"][0]["field"] == "webhook_url"
