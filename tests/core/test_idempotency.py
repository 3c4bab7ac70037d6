from datetime import timedelta
from io import StringIO
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from core.idempotency import advisory_lock_id
from core.models import IdempotencyRecord
from coupons.models import Coupon, CouponUse
from customers.models import Customer, LedgerEntry
from rewards.models import Reward
from tests.conftest import Api, assert_problem, run_together
from tests.factories import CouponFactory, CustomerFactory, RewardFactory, make_key

pytestmark = pytest.mark.django_db


def post(api: Api, path: str, body: dict[str, Any] | None = None, key: str = "key-1") -> Any:
    return api.post(path, body, HTTP_IDEMPOTENCY_KEY=key)


def redeem_path(customer: Customer, reward: Reward) -> str:
    return f"/api/v2/customers/{customer.pk}/rewards/{reward.pk}/redeem/"


def test_retry_with_the_same_key_replays_the_first_answer_byte_for_byte(api, customer):
    reward = RewardFactory.create(company=customer.company, points_required=100)
    first = post(api, redeem_path(customer, reward), {"use_z_tokens": False})
    again = post(api, redeem_path(customer, reward), {"use_z_tokens": False})
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert again["Content-Type"] == first["Content-Type"]
    assert Coupon.objects.count() == 1
    customer.refresh_from_db()
    assert customer.points_balance == 900


def test_each_write_endpoint_honours_the_key(api, customer):
    coupon = CouponFactory.create(customer=customer)
    cases = [
        (f"/api/v2/customers/{customer.pk}/coupons/{coupon.pk}/validate/", None),
        (f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 5}),
        ("/api/v2/customers/", {"phone": "+5511912345678"}),
    ]
    for number, (path, body) in enumerate(cases):
        first = post(api, path, body, key=f"k{number}")
        assert first.status_code in (200, 201), first.content
        again = post(api, path, body, key=f"k{number}")
        assert (again.status_code, again.content, again["Idempotent-Replayed"]) == (
            first.status_code, first.content, "true",
        )  # fmt: skip
    assert CouponUse.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="earn").count() == 1
    assert Customer.objects.filter(phone="+5511912345678").count() == 1


def test_same_key_with_a_different_request_is_422(api, customer):
    reward = RewardFactory.create(company=customer.company, points_required=100)
    post(api, redeem_path(customer, reward), {"use_z_tokens": False})
    response = post(api, redeem_path(customer, reward), {"use_z_tokens": True})
    assert_problem(response, 422, "validation-error", "idempotency_key_reused")
    other = RewardFactory.create(company=customer.company)
    assert_problem(
        post(api, redeem_path(customer, other), {}), 422, "validation-error", "idempotency_key_reused"
    )
    assert Coupon.objects.count() == 1


def test_domain_refusals_are_replayed_too(api, company):
    customer = CustomerFactory.create(company=company, points=10)
    reward = RewardFactory.create(company=company, points_required=100)
    first = post(api, redeem_path(customer, reward), {})
    assert_problem(first, 422, "validation-error", "insufficient_points")
    api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 500})
    again = post(api, redeem_path(customer, reward), {})
    assert (again.status_code, again.content, again["Idempotent-Replayed"]) == (422, first.content, "true")


def test_refusals_before_the_operation_are_not_stored(api, customer):
    reward = RewardFactory.create(company=customer.company, points_required=100)
    path = redeem_path(customer, reward)
    bad_json = api.client.post(path, data="{oops", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    assert_problem(bad_json, 400, "validation-error", "malformed_body")
    assert_problem(post(api, path, {"use_z_tokens": "perhaps"}, key="k"), 422, "validation-error")
    reader = Api(make_key(customer.company, read_only=True))
    assert_problem(post(reader, path, {}, key="k"), 403, "permission-denied")
    assert not IdempotencyRecord.objects.exists()
    fixed = post(api, path, {"use_z_tokens": False}, key="k")
    assert fixed.status_code == 200


def test_keys_are_scoped_to_the_company(api, customer):
    reward = RewardFactory.create(company=customer.company, points_required=100)
    post(api, redeem_path(customer, reward), {})
    stranger = CustomerFactory.create(points=500)
    their_reward = RewardFactory.create(company=stranger.company, points_required=100)
    their_api = Api(make_key(stranger.company))
    response = post(their_api, redeem_path(stranger, their_reward), {})
    assert response.status_code == 200 and "Idempotent-Replayed" not in response


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "ção"])
def test_malformed_key_is_422(api, customer, key):
    reward = RewardFactory.create(company=customer.company)
    response = api.client.post(redeem_path(customer, reward), {}, format="json", HTTP_IDEMPOTENCY_KEY=key)
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"][0]["field"] == "Idempotency-Key"
    assert not Coupon.objects.exists()


def test_expired_keys_are_forgotten_and_purged(api, customer):
    reward = RewardFactory.create(company=customer.company, points_required=100)
    post(api, redeem_path(customer, reward), {})
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    again = post(api, redeem_path(customer, reward), {})
    assert again.status_code == 200 and "Idempotent-Replayed" not in again
    assert Coupon.objects.count() == 2
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    out = StringIO()
    call_command("purge_idempotency_keys", stdout=out)
    assert "purged 1" in out.getvalue()
    assert not IdempotencyRecord.objects.exists()


def test_a_request_while_the_first_is_in_flight_is_409(api, customer):
    reward = RewardFactory.create(company=customer.company, points_required=100)
    lock = advisory_lock_id(customer.company_id, "busy")
    with other_connection() as other:
        other.execute("SELECT pg_advisory_lock(%s)", [lock])
        response = post(api, redeem_path(customer, reward), {}, key="busy")
        # Released here, not by closing: a closed client's backend frees its locks only when it
        # gets to run its exit, which on a loaded machine can come after the next request.
        assert other.execute("SELECT pg_advisory_unlock(%s)", [lock]).fetchone() == (True,)
    assert_problem(response, 409, "conflict", "idempotency_key_in_flight")
    assert not Coupon.objects.exists()
    assert post(api, redeem_path(customer, reward), {}, key="busy").status_code == 200


def other_connection() -> psycopg.Connection[Any]:
    settings = connection.settings_dict
    return psycopg.connect(dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"],
                           port=settings["PORT"] or 5432, autocommit=True)  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_the_key_is_free_again_once_the_request_has_answered(company):
    """The lock ends with the request's transaction, refused or not: no lock is left on the
    request's connection (which a persistent connection or a pool would keep for the next one)."""
    api = Api(make_key(company))
    customer = CustomerFactory.create(company=company, points=150)
    reward = RewardFactory.create(company=company, points_required=100)
    assert post(api, redeem_path(customer, reward), {}, key="ok").status_code == 200
    assert post(api, redeem_path(customer, reward), {}, key="poor").status_code == 422
    with other_connection() as other:
        for key in ("ok", "poor"):
            lock = advisory_lock_id(company.pk, key)
            assert other.execute("SELECT pg_try_advisory_lock(%s)", [lock]).fetchone() == (True,), key
            other.execute("SELECT pg_advisory_unlock(%s)", [lock])


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_retries_of_one_redeem_make_one_coupon_and_one_debit():
    customer = CustomerFactory.create(points=1000)
    reward = RewardFactory.create(company=customer.company, points_required=100)
    key = make_key(customer.company)
    path = redeem_path(customer, reward)

    responses = run_together(10, lambda: post(Api(key), path, {"use_z_tokens": False}, key="till-7-sale-42"))

    assert Coupon.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="redeem").count() == 1
    winners = [r for r in responses if r.status_code == 200]
    assert winners and {r.content for r in winners} == {winners[0].content}
    assert all(r.status_code == 409 and r.json()["code"] == "idempotency_key_in_flight"
               for r in responses if r.status_code != 200)  # fmt: skip
    customer.refresh_from_db()
    assert customer.points_balance == 900
    call_command("ledger_check", stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_enrolments_of_one_phone_make_one_customer(company):
    key = make_key(company)
    responses = run_together(10, lambda: Api(key).post("/api/v2/customers/", {"phone": "+5511987650000"}))
    assert Customer.objects.filter(company=company).count() == 1
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 9 + [201]
    assert len({r.json()["data"]["id"] for r in responses}) == 1
