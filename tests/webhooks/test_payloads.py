"""Every event's delivered JSON against the upstream outbound-webhooks guide, field for field: each
event is provoked the way it happens in production (the API, the services, the expiry command) and
delivered by the real worker command to a receiver on loopback. Extra fields are allowed."""

import hashlib
import hmac
import json
import re
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from companies.services import loyalty_program_save
from coupons.services import coupon_cancel
from tests.conftest import Api
from tests.factories import CompanyFactory, CouponFactory, CustomerFactory, RewardFactory, make_key
from webhooks.models import EVENTS

pytestmark = pytest.mark.django_db(transaction=True)

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")  # ISO 8601, UTC, with Z


class Timestamp:
    """A type for the table: an ISO 8601 UTC timestamp string ending in Z."""


# The upstream guide's ``data`` per event: every key present, of this type (a tuple: any of them).
UPSTREAM: dict[str, dict[str, type | tuple[type, ...]]] = {
    "customer.enrolled": {
        "customer_id": str,
        "program_id": str,
        "name": str,
        "phone": str,
        "enrolled_at": Timestamp,
    },
    "customer.tier_changed": {"customer_id": str, "old_tier": str, "new_tier": str, "changed_at": Timestamp},
    "points.earned": {
        "customer_id": str,
        "points_added": int,
        "new_balance": int,
        "source": str,
        "reference_id": str,
        "awarded_at": Timestamp,
    },
    "points.spent": {
        "customer_id": str,
        "points_spent": int,
        "new_balance": int,
        "source": str,
        "reference_id": str,
        "spent_at": Timestamp,
    },
    "reward.redeemed": {
        "customer_id": str,
        "coupon_code": str,
        "reward_id": str,
        "reward_name": str,
        "points_spent": int,
        "valid_until": Timestamp,
    },
    "coupon.used": {"customer_id": str, "coupon_code": str, "reward_name": str, "used_at": Timestamp},
    "coupon.cancelled": {
        "customer_id": str,
        "coupon_code": str,
        "reward_name": str,
        "cancelled_at": Timestamp,
    },
    "coupon.expiring": {
        "customer_id": str,
        "coupon_code": str,
        "reward_name": str,
        "valid_until": Timestamp,
        "expires_in_days": int,
    },
    "coupon.expired": {"customer_id": str, "coupon_code": str, "reward_name": str, "expired_at": Timestamp},
}


def mismatches(data: dict, table: dict[str, type | tuple[type, ...]]) -> list[str]:
    wrong = []
    for key, expected in table.items():
        if key not in data:
            wrong.append(f"{key}: missing")
            continue
        value = data[key]
        if expected is Timestamp:
            ok = isinstance(value, str) and bool(TIMESTAMP.match(value))
        else:
            # bool is an int to Python, never to a receiver's JSON decoder.
            ok = isinstance(value, expected) and not isinstance(value, bool)
        if not ok:
            wrong.append(f"{key}: {value!r} is not {expected}")
    return wrong


def deliver() -> None:
    call_command("webhook_worker", "--once", stdout=StringIO())


@pytest.fixture
def provoked(receiver):
    """Every event, once, through the API (enrol, points, redeem, validate), the cancel service and
    the expire_coupons command, delivered by ``webhook_worker --once``."""
    company = CompanyFactory.create()
    program = company.loyalty_program
    program.tiers_enabled = True  # the points added below lift the customer from default to bronze
    loyalty_program_save(program=program)
    api = Api(make_key(company))
    configured = api.client.put(
        "/api/v2/integrations/webhooks/", {"webhook_url": receiver.url, "webhook_events": []}, format="json"
    )
    assert configured.status_code == 200, configured.content
    secret = configured.json()["data"]["webhook_secret"]

    enrolled = api.post("/api/v2/customers/", {"phone": "+5511987654321", "name": "Ana Souza"})
    assert enrolled.status_code == 201, enrolled.content
    customer_id = enrolled.json()["data"]["id"]
    assert api.post(f"/api/v2/customers/{customer_id}/points/add/", {"amount": 500}).status_code == 200
    reward = RewardFactory.create(company=company, points_required=100, name="Free coffee")
    redeemed = api.redeem(customer_id, reward.pk)
    assert redeemed.status_code == 200, redeemed.content
    assert api.validate(customer_id, redeemed.json()["data"]["coupon_code"]).status_code == 200

    other = CustomerFactory.create(company=company, points=1000)
    coupon_cancel(coupon_id=CouponFactory.create(customer=other, reward=reward).pk)
    now = timezone.now()
    CouponFactory.create(customer=other, reward=reward, valid_until=now + timedelta(days=2, hours=1))
    CouponFactory.create(customer=other, reward=reward, valid_until=now - timedelta(hours=1))
    call_command("expire_coupons", stdout=StringIO())

    deliver()
    return receiver, secret


def test_every_event_carries_the_upstream_guides_data(provoked):
    receiver, _ = provoked
    by_event = {item["json"]["event"]: item["json"]["data"] for item in receiver.received}
    assert set(by_event) == set(UPSTREAM) == set(EVENTS)
    wrong = {
        event: found for event, table in UPSTREAM.items() if (found := mismatches(by_event[event], table))
    }
    assert wrong == {}, wrong


def test_values_mean_what_the_guide_says(provoked):
    receiver, _ = provoked
    by_event = {item["json"]["event"]: item["json"]["data"] for item in receiver.received}
    enrolled = by_event["customer.enrolled"]
    assert (enrolled["name"], enrolled["phone"]) == ("Ana Souza", "+5511987654321")
    earned = [item["json"]["data"] for item in receiver.received if item["json"]["event"] == "points.earned"]
    added = next(data for data in earned if data["source"] == "api")  # not a cancel's refund
    assert (added["points_added"], added["new_balance"]) == (500, 500)
    spent = by_event["points.spent"]
    assert (spent["points_spent"], spent["new_balance"], spent["source"]) == (100, 400, "reward_redemption")
    assert spent["reference_id"] == by_event["reward.redeemed"]["coupon_id"]
    assert by_event["reward.redeemed"]["reward_name"] == "Free coffee"
    assert by_event["reward.redeemed"]["points_spent"] == 100
    assert by_event["coupon.used"]["coupon_code"] == by_event["reward.redeemed"]["coupon_code"]
    assert by_event["coupon.expiring"]["expires_in_days"] == 3  # 2 days 1 hour left, rounded up


def test_envelope_and_headers_follow_the_guide(provoked):
    receiver, secret = provoked
    assert receiver.received
    for item in receiver.received:
        payload, headers = item["json"], item["headers"]
        assert set(payload) == {"event", "webhook_id", "timestamp", "data"}
        assert uuid.UUID(payload["webhook_id"]).version == 4
        assert TIMESTAMP.match(payload["timestamp"])
        assert headers["X-Webhook-Id"] == payload["webhook_id"]
        assert headers["X-Webhook-Event"] == payload["event"]
        assert headers["User-Agent"] == "Zupy-Webhook/1.0"
        expected = hmac.new(secret.encode(), item["body"], hashlib.sha256).hexdigest()
        assert headers["X-Webhook-Signature"] == f"sha256={expected}"
        assert json.loads(item["body"]) == payload
    assert len({item["json"]["webhook_id"] for item in receiver.received}) == len(receiver.received)


def test_an_empty_event_list_means_every_event_and_a_list_only_those(receiver):
    company = CompanyFactory.create()
    api = Api(make_key(company))
    customer = CustomerFactory.create(company=company)
    for events, expected in (([], ["points.earned"]), (["coupon.used"], [])):
        put = api.client.put(
            "/api/v2/integrations/webhooks/",
            {"webhook_url": receiver.url, "webhook_events": events},
            format="json",
        )
        assert put.status_code == 200, put.content
        receiver.received.clear()
        assert api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 1}).status_code == 200
        deliver()
        assert receiver.events() == expected, events


def test_a_coupon_stored_as_expired_by_a_refused_validate_still_reports_coupon_expired(receiver):
    company = CompanyFactory.create()
    api = Api(make_key(company))
    api.client.put("/api/v2/integrations/webhooks/", {"webhook_url": receiver.url}, format="json")
    coupon = CouponFactory.create(
        customer__company=company, valid_until=timezone.now() - timedelta(minutes=1)
    )
    assert api.validate(coupon.customer_id, coupon.code).status_code == 409
    call_command("expire_coupons", stdout=StringIO())  # finds nothing left to expire
    deliver()
    assert receiver.events() == ["coupon.expired"]
    assert receiver.received[0]["json"]["data"]["coupon_code"] == coupon.code
