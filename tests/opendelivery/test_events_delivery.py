"""Signed OpenDelivery loyalty events at a real loopback platform: provoked through /api/v2 (and the
coupon services and commands the admin and cron run), delivered by the webhook worker, and checked
the way a platform checks them (signature, headers, the standard's envelope schema)."""

from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from companies.models import Company
from companies.services import loyalty_program_save
from coupons.services import coupon_cancel
from opendelivery.models import ClientKind, OdMerchantLink
from opendelivery.redemptions import od_redemptions_process_due
from tests.conftest import Api
from tests.factories import CompanyFactory, CouponFactory, CustomerFactory, RewardFactory, make_key
from tests.opendelivery.conftest import OdApi, make_od_token
from tests.opendelivery.loyalty_events import (
    od_subscriber,
    platform_receiver,
    standard_event_types,
    verified,
)
from tests.webhooks.conftest import Receiver
from tests.webhooks.steps import deliver_next
from webhooks.models import DeliveryStatus, Surface, WebhookDelivery
from webhooks.services import webhook_configure

pytestmark = pytest.mark.django_db(transaction=True)

APP_ID = "6f0a3c52-8d7e-4b1a-9c3d-2e5f4a6b7c8d"
EXTENSION_TYPES = ["loyalty.points.adjusted", "loyalty.coupon.expired", "loyalty.coupon.cancelled"]


@pytest.fixture(autouse=True)
def _app_id(settings):
    settings.OPENDELIVERY_APP_ID = APP_ID


@pytest.fixture
def platform(settings: Any) -> Iterator[Receiver]:
    with platform_receiver(settings) as server:
        yield server


@pytest.fixture
def other_platform(platform: Receiver) -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.shutdown()


def deliver() -> None:
    """The webhook worker, until nothing is due."""
    call_command("webhook_worker", "--once", stdout=StringIO())


def provoke(company: Company, *, tiers: bool = True) -> dict[str, str]:
    """Every native event an OpenDelivery client can get, once or more, the way each happens: points,
    a redemption and a coupon's use through /api/v2, a cancel by the service the admin calls, an
    expiry by the cron's command. Answers the ids it made."""
    if tiers:
        program = company.loyalty_program
        program.tiers_enabled = True  # the points added below lift the customer from default to bronze
        loyalty_program_save(program=program)
    api = Api(make_key(company))
    customer = CustomerFactory.create(company=company)
    assert api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 500}).status_code == 200
    reward = RewardFactory.create(company=company, points_required=100, name="Free coffee")
    redeemed = api.redeem(customer.pk, reward.pk)
    assert redeemed.status_code == 200, redeemed.content
    code = redeemed.json()["data"]["coupon_code"]
    assert api.validate(customer.pk, code).status_code == 200
    coupon_cancel(coupon_id=CouponFactory.create(customer=customer, reward=reward).pk)
    CouponFactory.create(customer=customer, reward=reward, valid_until=timezone.now() - timedelta(hours=1))
    call_command("expire_coupons", stdout=StringIO())
    return {"customer": customer.pk, "code": code, "reward": reward.pk}


def by_type(platform: Receiver, *, secret: str, merchant_id: str = "merchant-1") -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for item in platform.received:
        envelope = verified(item, secret=secret, merchant_id=merchant_id, app_id=APP_ID)
        found.setdefault(envelope["eventType"], []).append(envelope)
    return found


def test_the_four_standard_events_arrive_signed_in_the_standards_envelope(platform):
    company = CompanyFactory.create()
    _, secret = od_subscriber(company=company, url=platform.url)
    made = provoke(company)
    deliver()
    events = by_type(platform, secret=secret)
    assert set(events) == {
        "loyalty.points.earned",
        "loyalty.redemption.created",
        "loyalty.coupon.used",
        "loyalty.tier.changed",
    }
    assert set(events) <= set(standard_event_types())
    program_id = company.loyalty_program.pk
    for envelope in (envelope for each in events.values() for envelope in each):
        assert envelope["accountId"] == envelope["customerId"] == made["customer"]
        assert envelope["programId"] == program_id
    earned = next(e for e in events["loyalty.points.earned"] if e["payload"]["source"] == "api")
    assert {k: earned["payload"][k] for k in ("points_added", "new_balance")} == {
        "points_added": 500,
        "new_balance": 500,
    }
    assert earned["occurredAt"] == earned["payload"]["awarded_at"]
    (redeemed,) = events["loyalty.redemption.created"]
    assert set(redeemed["payload"]) == {
        "reward_id",
        "reward_name",
        "coupon_id",
        "coupon_code",
        "points_spent",
        "valid_until",
    }
    assert (redeemed["payload"]["reward_name"], redeemed["payload"]["points_spent"]) == ("Free coffee", 100)
    assert redeemed["payload"]["coupon_code"] == made["code"]
    (used,) = events["loyalty.coupon.used"]
    assert used["payload"]["coupon_code"] == made["code"] and used["payload"]["used_at"] == used["occurredAt"]
    (tier,) = events["loyalty.tier.changed"]
    assert (tier["payload"]["old_tier"], tier["payload"]["new_tier"]) == ("default", "bronze")
    # Every envelope its own id, and the id is the delivery's.
    ids = [e["id"] for each in events.values() for e in each]
    assert len(set(ids)) == len(ids)
    assert set(ids) == {
        str(i)
        for i in WebhookDelivery.objects.filter(surface=Surface.OPENDELIVERY).values_list(
            "webhook_id", flat=True
        )
    }


def test_extension_events_only_when_listed(platform, other_platform):
    company = CompanyFactory.create()
    _, plain = od_subscriber(company=company, url=platform.url, name="Default")
    _, listing = od_subscriber(
        company=company,
        url=other_platform.url,
        events=["loyalty.points.earned", *EXTENSION_TYPES],
        name="Listing",
        kind=ClientKind.BY_APP,
        merchant_id="store-77",
    )
    provoke(company, tiers=False)
    deliver()
    assert not set(by_type(platform, secret=plain)) & set(EXTENSION_TYPES)
    listed = by_type(other_platform, secret=listing, merchant_id="store-77")
    assert set(listed) == {"loyalty.points.earned", *EXTENSION_TYPES}
    adjusted = listed["loyalty.points.adjusted"][0]["payload"]
    assert (adjusted["points_spent"], adjusted["new_balance"], adjusted["source"]) == (
        100,
        400,
        "reward_redemption",
    )
    assert listed["loyalty.coupon.cancelled"][0]["payload"]["cancelled_at"]
    expired = listed["loyalty.coupon.expired"][0]
    assert expired["occurredAt"] == expired["payload"]["expired_at"]


def test_a_client_of_another_company_or_a_disabled_one_never_gets_the_event(platform, other_platform):
    company, other = CompanyFactory.create(), CompanyFactory.create()
    _, secret = od_subscriber(company=company, url=platform.url)
    od_subscriber(company=other, url=other_platform.url, name="Other's")
    off, _ = od_subscriber(company=company, url=other_platform.url, name="Off", merchant_id="m-off")
    off.enabled = False
    off.save()
    unlinked, _ = od_subscriber(company=company, url=other_platform.url, name="Unlinked", merchant_id="m-x")
    OdMerchantLink.objects.filter(client=unlinked).update(enabled=False)
    OdMerchantLink.objects.get(client=unlinked).save()  # as the admin saves it: the change is seen at once
    provoke(company, tiers=False)
    deliver()
    assert by_type(platform, secret=secret)
    assert other_platform.received == []
    assert not WebhookDelivery.objects.filter(company=other).exists()


def test_a_by_app_client_hears_each_merchant_under_its_own_merchant_id(platform):
    first, second = CompanyFactory.create(), CompanyFactory.create()
    client, secret = od_subscriber(company=first, url=platform.url, kind=ClientKind.BY_APP, merchant_id="A-1")
    OdMerchantLink.objects.create(client=client, company=second, merchant_id="B-2")
    for company in (first, second):
        customer = CustomerFactory.create(company=company)
        api = Api(make_key(company))
        assert api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 5}).status_code == 200
    deliver()
    merchants = sorted(item["headers"]["X-App-MerchantId"] for item in platform.received)
    assert merchants == ["A-1", "B-2"]
    for item in platform.received:
        verified(item, secret=secret, merchant_id=item["headers"]["X-App-MerchantId"], app_id=APP_ID)


def test_the_native_endpoint_keeps_its_own_format_beside(platform, other_platform):
    company = CompanyFactory.create()
    _, secret = od_subscriber(company=company, url=platform.url)
    webhook_configure(company=company, url=other_platform.url, events=["points.earned"])
    customer = CustomerFactory.create(company=company)
    assert (
        Api(make_key(company)).post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 7}).status_code
        == 200
    )
    deliver()
    (od,) = platform.received
    assert (
        verified(od, secret=secret, merchant_id="merchant-1", app_id=APP_ID)["eventType"]
        == "loyalty.points.earned"
    )
    (native,) = other_platform.received
    assert native["json"]["event"] == "points.earned" and native["headers"]["X-Webhook-Signature"].startswith(
        "sha256="
    )
    assert "X-App-Signature" not in native["headers"]


def test_a_rolled_back_change_writes_no_delivery(platform):
    company = CompanyFactory.create()
    od_subscriber(company=company, url=platform.url)
    customer = CustomerFactory.create(company=company)
    from customers.services import points_add

    with pytest.raises(RuntimeError), transaction.atomic():
        points_add(company=company, customer_id=customer.pk, amount=5, reason="x", api_key=None)
        assert WebhookDelivery.objects.filter(surface=Surface.OPENDELIVERY).count() == 1
        raise RuntimeError("the change fails after the event")
    assert not WebhookDelivery.objects.exists()


def test_a_retry_sends_the_same_id_and_a_fresh_valid_signature(platform):
    company = CompanyFactory.create()
    _, secret = od_subscriber(company=company, url=platform.url)
    customer = CustomerFactory.create(company=company)
    platform.script = [500]
    assert (
        Api(make_key(company)).post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 3}).status_code
        == 200
    )
    first = deliver_next()
    assert first is not None and (first.status, first.attempts, first.last_status_code) == ("pending", 1, 500)
    second = deliver_next()
    assert second is not None and second.status == DeliveryStatus.SUCCEEDED
    envelopes = [
        verified(item, secret=secret, merchant_id="merchant-1", app_id=APP_ID) for item in platform.received
    ]
    assert len(envelopes) == 2 and envelopes[0] == envelopes[1]
    assert platform.received[0]["body"] == platform.received[1]["body"]


def test_the_worker_reads_the_client_as_it_is_at_each_attempt(platform, other_platform):
    """A client switched off after the event: the attempt is a recorded failure, nothing is sent; set
    on again with a new URL and a rotated secret, the retry goes there, signed with the new one."""
    from opendelivery.events import od_client_webhook_configure

    company = CompanyFactory.create()
    client, _ = od_subscriber(company=company, url=platform.url)
    customer = CustomerFactory.create(company=company)
    assert (
        Api(make_key(company)).post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 3}).status_code
        == 200
    )
    client.enabled = False
    client.save()
    row = deliver_next()
    assert row is not None and row.attempts == 1 and "disabled" in row.last_error
    assert platform.received == []
    client.enabled = True
    client.save()
    rotated = od_client_webhook_configure(client_id=client.pk, url=other_platform.url, rotate_secret=True)
    assert rotated.new_secret
    row = deliver_next()
    assert row is not None and row.status == DeliveryStatus.SUCCEEDED and row.url == other_platform.url
    verified(other_platform.received[0], secret=rotated.new_secret, merchant_id="merchant-1", app_id=APP_ID)


def test_a_redemption_issued_for_a_correlation_id_carries_it_to_its_client_only(platform, other_platform):
    """createLoyaltyRedemption answers 202 with a correlationId; the coupon the worker then issues
    is announced with it, to the client that asked only. A redemption on /api/v2 has none."""
    company = CompanyFactory.create()
    asking, asking_secret = od_subscriber(company=company, url=platform.url)
    _, other_secret = od_subscriber(
        company=company, url=other_platform.url, name="Other", kind=ClientKind.BY_APP, merchant_id="m-2"
    )
    customer = CustomerFactory.create(company=company, points=500)
    reward = RewardFactory.create(company=company, points_required=100)
    accepted = OdApi(make_od_token(asking)).post(
        "/v2/loyalty/redemptions", {"accountId": customer.pk, "rewardId": reward.pk, "quantity": 1}
    )
    assert accepted.status_code == 202, accepted.content
    correlation_id = accepted.json()["correlationId"]
    assert od_redemptions_process_due() == 1
    assert Api(make_key(company)).redeem(customer.pk, reward.pk).status_code == 200
    deliver()
    mine = by_type(platform, secret=asking_secret)["loyalty.redemption.created"]
    assert sorted(e["payload"].get("correlation_id", "") for e in mine) == ["", correlation_id]
    theirs = by_type(other_platform, secret=other_secret, merchant_id="m-2")["loyalty.redemption.created"]
    assert len(theirs) == 2 and all("correlation_id" not in e["payload"] for e in theirs)
