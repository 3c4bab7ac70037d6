from typing import Any

import pytest
from django.db import connection
from django.test import Client

from companies.models import ApiKey
from companies.services import api_key_create, api_key_revoke
from customers.models import Customer, LedgerEntry
from tests.conftest import Api, assert_problem
from tests.factories import CouponFactory, CustomerFactory, RewardFactory, make_key

pytestmark = pytest.mark.django_db

READ_PATHS = ["/api/v2/rewards/", "/api/v2/coupons/issued/", "/api/v2/coupons/issued/stats/"]


@pytest.mark.parametrize("path", READ_PATHS)
def test_missing_key_is_401(path):
    response = Api(None).get(path)
    assert_problem(response, 401, "authentication-required")
    assert response["WWW-Authenticate"]


@pytest.mark.parametrize(
    "key", ["zupy_pk_" + "a" * 32, "zupy_pk_short", "Bearer something", "zupy_pk_" + "é" * 32, "x" * 5000]
)
def test_unknown_or_malformed_key_is_401(key):
    assert_problem(Api(key).get("/api/v2/rewards/"), 401, "authentication-required")


def test_revoked_key_is_401(company):
    key, raw = api_key_create(company=company)
    assert Api(raw).get("/api/v2/rewards/").status_code == 200
    api_key_revoke(api_key=key)
    assert_problem(Api(raw).get("/api/v2/rewards/"), 401, "authentication-required")


def test_key_is_stored_only_as_a_digest(company):
    key, raw = api_key_create(company=company)
    stored = ApiKey.objects.filter(pk=key.pk).values().get()
    assert raw not in str(stored)
    assert raw.startswith("zupy_pk_") and len(raw) == 40 and raw[8:].isalnum()
    other = raw[:-1] + ("y" if raw[-1] != "y" else "z")
    assert key.matches(raw) and not key.matches(other)


def test_read_only_key_reads_but_cannot_write(company):
    customer = CustomerFactory.create(company=company, points=1000)
    reward = RewardFactory.create(company=company)
    coupon = CouponFactory.create(customer=customer)
    reader = Api(make_key(company, read_only=True))
    for path in READ_PATHS:
        assert reader.get(path).status_code == 200
    assert_problem(reader.redeem(customer.pk, reward.pk), 403, "permission-denied")
    assert_problem(reader.validate(customer.pk, coupon.pk), 403, "permission-denied")


def test_every_object_of_another_company_is_404(api):
    stranger = CustomerFactory.create(points=1000)
    coupon = CouponFactory.create(customer=stranger)
    assert_problem(api.get(f"/api/v2/rewards/{coupon.reward_id}/"), 404, "not-found")
    assert_problem(api.get("/api/v2/rewards/", customer_id=stranger.pk), 404, "not-found")
    assert_problem(api.get("/api/v2/rewards/coupons/", customer_id=stranger.pk), 404, "not-found")
    assert_problem(api.get("/api/v2/coupons/issued/", customer_id=stranger.pk), 404, "not-found")
    assert_problem(api.redeem(stranger.pk, coupon.reward_id), 404, "not-found")
    assert_problem(api.validate(stranger.pk, coupon.pk), 404, "not-found")
    assert api.get("/api/v2/coupons/issued/", code=coupon.code).json()["data"] == []


def test_authentication_costs_no_query_once_the_key_is_cached(api, django_assert_num_queries):
    api.get("/api/v2/coupons/issued/stats/")
    with django_assert_num_queries(1):  # the stats aggregate only
        assert api.get("/api/v2/coupons/issued/stats/").status_code == 200


def test_unknown_keys_are_cached_too(django_assert_num_queries):
    stranger = Api("zupy_pk_" + "q" * 32)
    stranger.get("/api/v2/rewards/")
    with django_assert_num_queries(0):
        assert_problem(stranger.get("/api/v2/rewards/"), 401, "authentication-required")


def test_a_tier_change_in_admin_reaches_cached_keys(company, client):
    from django.contrib.auth.models import User

    api = Api(make_key(company))
    assert api.get("/api/v2/rewards/")["X-RateLimit-Limit"] == "60"
    client.force_login(User.objects.create_superuser("root", "r@example.com", "pw"))
    client.post(
        f"/admin/companies/company/{company.pk}/change/",
        {"name": company.name, "email": company.email, "rate_tier": "standard"},
    )
    assert api.get("/api/v2/rewards/")["X-RateLimit-Limit"] == "300"


@pytest.fixture
def admin_client(client: Client) -> Client:
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    return client


def points_add(api: Api, customer: Customer) -> Any:
    return api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 5})


def test_a_key_made_read_only_in_the_admin_cannot_write_at_once(admin_client, company, customer):
    key, raw = api_key_create(company=company, name="till")
    partner = Api(raw)
    assert points_add(partner, customer).status_code == 200  # the lookup is cached now
    form = {"name": "till", "read_only": "on", "response_format": "envelope"}
    assert admin_client.post(f"/admin/companies/apikey/{key.pk}/change/", form).status_code == 302
    assert_problem(points_add(partner, customer), 403, "permission-denied")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["admin", "queryset"])
def test_a_deleted_key_is_401_at_once(admin_client, how):
    company = CustomerFactory.create(points=10).company
    customer = company.customers.get()
    key, raw = api_key_create(company=company)
    partner = Api(raw)
    assert points_add(partner, customer).status_code == 200  # cached, and referenced by a ledger row
    if how == "admin":
        response = admin_client.post(f"/admin/companies/apikey/{key.pk}/delete/", {"post": "yes"})
        assert response.status_code == 302
        assert not ApiKey.objects.filter(pk=key.pk).exists()
    else:
        ApiKey.objects.filter(company=company).delete()
    assert_problem(points_add(partner, customer), 401, "authentication-required")
    assert_problem(partner.get("/api/v2/rewards/"), 401, "authentication-required")


@pytest.mark.django_db(transaction=True)
def test_a_write_with_a_key_deleted_behind_a_stale_cache_is_401(company, customer):
    """Another process may hold the key's lookup for API_KEY_LOCAL_TTL seconds after the delete; its
    write then names a key that no longer exists. Simulated here by deleting the row under the cache."""
    key, raw = api_key_create(company=company)
    partner = Api(raw)
    assert partner.get("/api/v2/rewards/").status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM zupy_apikey WHERE id = %s", [key.pk])
    before = LedgerEntry.objects.count()
    assert_problem(points_add(partner, customer), 401, "authentication-required")
    assert LedgerEntry.objects.count() == before
