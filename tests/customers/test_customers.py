from typing import Any

import pytest

from customers.models import Customer
from tests.conftest import Api, assert_problem
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

UPSTREAM_CUSTOMER = {
    "avatar_url",
    "birth_date",
    "card_number",
    "company_id",
    "cpf",
    "created_at",
    "email",
    "full_name",
    "id",
    "is_active",
    "join_date",
    "last_activity_date",
    "phone",
    "points_balance",
    "points_earned",
    "points_spent",
    "program_id",
    "program_name",
    "rfm_segment",
    "tier",
    "updated_at",
    "zupy_balance",
}
VALID_CPF = "529.982.247-25"


def enrol(api: Api, **body: str) -> Any:
    return api.post("/api/v2/customers/", body)


def test_enrol_creates_a_customer_with_normalised_identifiers(api, company):
    response = enrol(api, phone="(11) 98765-4321", email=" Maria@Example.COM ", cpf=VALID_CPF, name="Maria")
    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert set(data) >= UPSTREAM_CUSTOMER
    assert (data["created"], data["matched_on"]) == (True, None)
    assert (data["phone"], data["email"], data["cpf"]) == (
        "+5511987654321",
        "maria@example.com",
        "52998224725",
    )
    assert (data["full_name"], data["points_balance"], data["zupy_balance"]) == ("Maria", 0, "0.000000")
    assert data["company_id"] == company.pk


@pytest.mark.parametrize(
    ("body", "matched_on"),
    [
        ({"phone": "+55 11 98765 4321"}, "phone"),
        ({"email": "MARIA@example.com"}, "email"),
        ({"cpf": "52998224725"}, "cpf"),
        ({"phone": "+5511900001111", "email": "maria@example.com"}, "email"),
    ],
)
def test_enrol_matches_an_existing_customer(api, company, body, matched_on):
    first = enrol(api, phone="+5511987654321", email="maria@example.com", cpf=VALID_CPF).json()["data"]
    response = enrol(api, **body)
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["id"], data["created"], data["matched_on"]) == (first["id"], False, matched_on)
    assert Customer.objects.count() == 1


def test_same_phone_in_another_company_is_another_customer(api):
    other = CustomerFactory.create(phone="+5511987654321")
    data = enrol(api, phone="+5511987654321").json()["data"]
    assert data["created"] is True and data["id"] != other.pk


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "123"}, "phone"),
        ({"email": "not-an-email"}, "email"),
        ({"cpf": "529.982.247-26"}, "cpf"),
        ({"cpf": "111.111.111-11"}, "cpf"),
        ({"name": "x" * 201, "phone": "+5511987654321"}, "name"),
        ({"name": "Nobody"}, "body"),
        ({}, "body"),
    ],
)
def test_enrol_refuses_bad_identifiers(api, body, field):
    body_ = assert_problem(enrol(api, **body), 422, "validation-error")
    assert body_["errors"][0]["field"] == field
    assert not Customer.objects.exists()


def test_list_filters_by_normalised_phone_email_name_and_search(api, company):
    maria = CustomerFactory.create(
        company=company, full_name="Maria Silva", phone="+5511987654321", email="m@x.com"
    )
    joao = CustomerFactory.create(
        company=company, full_name="João Souza", phone="+5521912345678", email="j@x.com", cpf="52998224725"
    )
    CustomerFactory.create(full_name="Maria Elsewhere")

    def ids(**params: str) -> list[str]:
        response = api.get("/api/v2/customers/", **params)
        assert response.status_code == 200, response.content
        return [item["id"] for item in response.json()["data"]]

    assert ids() == [joao.pk, maria.pk]
    assert ids(phone="(11) 98765-4321") == [maria.pk]
    assert ids(email="J@X.COM") == [joao.pk]
    assert ids(name="maria") == [maria.pk]
    assert ids(search="souza") == [joao.pk]
    assert ids(search="98765") == [maria.pk]
    assert ids(search="529.982") == [joao.pk]
    assert_problem(api.get("/api/v2/customers/", phone="12"), 422, "validation-error")


def test_list_paginates(api, company):
    made = [CustomerFactory.create(company=company).pk for _ in range(5)]
    first = api.get("/api/v2/customers/", page_size=3).json()
    second = api.get("/api/v2/customers/", page_size=3, cursor=first["meta"]["cursor"]).json()
    assert [c["id"] for c in first["data"] + second["data"]] == list(reversed(made))
    assert second["meta"]["has_next"] is False


def test_customer_detail_and_balances(api, customer):
    data = api.get(f"/api/v2/customers/{customer.pk}/").json()["data"]
    assert (data["id"], data["points_balance"]) == (customer.pk, 1000)
    points = api.get(f"/api/v2/customers/{customer.pk}/points/").json()["data"]
    assert set(points) >= {
        "customer_id",
        "points_balance",
        "points_earned",
        "points_spent",
        "points_name",
        "last_activity_date",
        "tier",
    }
    assert (points["points_balance"], points["points_earned"], points["points_spent"]) == (1000, 1000, 0)
    z = api.get(f"/api/v2/customers/{customer.pk}/z-balance/").json()["data"]
    assert z == {"z_balance": "0.000000", "wallet_address": None, "has_wallet": False}


@pytest.mark.parametrize("suffix", ["", "points/", "points/history/", "z-balance/"])
def test_another_companys_customer_is_404(api, suffix):
    stranger = CustomerFactory.create(points=5)
    assert_problem(api.get(f"/api/v2/customers/{stranger.pk}/{suffix}"), 404, "not-found")
    assert_problem(api.get(f"/api/v2/customers/nope/{suffix}"), 404, "not-found")
