"""A customer's phone, e-mail and CPF are stored in one normal form whoever writes them: a customer an
admin types in is the one the API finds and enrols, and the other way round."""

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from customers.models import Customer
from customers.selectors import customer_list
from customers.services import customer_create
from tests.conftest import Api

pytestmark = pytest.mark.django_db

TYPED = {"phone": "(11) 98765-4321", "email": " Maria@Example.COM ", "cpf": "529.982.247-25"}
NORMAL = {"phone": "+5511987654321", "email": "maria@example.com", "cpf": "52998224725"}


def admin_add(admin_client: Any, company_id: str, **identifiers: str) -> Any:
    data = {
        "company": company_id, "full_name": "Maria", "phone": "", "email": "", "cpf": "", "is_active": "on",
        "ledger-TOTAL_FORMS": "0", "ledger-INITIAL_FORMS": "0", **identifiers,
    }  # fmt: skip
    return admin_client.post("/admin/customers/customer/add/", data)


def enrol(api: Api, **body: str) -> Any:
    return api.post("/api/v2/customers/", body)


@pytest.mark.parametrize("field", ["phone", "email", "cpf"])
def test_a_customer_added_in_the_admin_is_the_one_the_api_enrols(admin_client, api, company, field):
    response = admin_add(admin_client, company.pk, **{field: TYPED[field]})
    assert response.status_code == 302, response.content.decode()[:3000]
    added = Customer.objects.get(company=company)
    assert getattr(added, field) == NORMAL[field]

    answer = enrol(api, **{field: NORMAL[field]})
    assert answer.status_code == 200, answer.content
    assert (answer.json()["data"]["id"], answer.json()["data"]["matched_on"]) == (added.pk, field)
    assert Customer.objects.filter(company=company).count() == 1


def test_the_list_finds_a_customer_added_in_the_admin(admin_client, api, company):
    assert admin_add(admin_client, company.pk, phone=TYPED["phone"]).status_code == 302
    added = Customer.objects.get(company=company)
    assert list(customer_list(company=company, phone=NORMAL["phone"])) == [added]
    found = api.get("/api/v2/customers/", phone=NORMAL["phone"]).json()["data"]
    assert [row["id"] for row in found] == [added.pk]


@pytest.mark.parametrize("field", ["phone", "email", "cpf"])
def test_the_admin_finds_a_customer_the_api_enrolled(admin_client, api, company, field):
    assert enrol(api, **{field: NORMAL[field]}).status_code == 201
    response = admin_add(admin_client, company.pk, **{field: TYPED[field]})
    assert response.status_code == 200  # the form again, with the error
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field]
    assert errors[field] == [f"{Customer.objects.get(company=company)} already has it."]
    assert Customer.objects.filter(company=company).count() == 1


def test_an_admin_edit_to_another_customers_identifier_is_a_form_error(admin_client, company):
    holder = customer_create(company=company, full_name="Maria", phone=NORMAL["phone"])
    customer = customer_create(company=company, full_name="João", email=NORMAL["email"])
    data = {
        "full_name": "João", "phone": TYPED["phone"], "email": NORMAL["email"], "cpf": "", "is_active": "on",
        "ledger-TOTAL_FORMS": "0", "ledger-INITIAL_FORMS": "0",
    }  # fmt: skip
    response = admin_client.post(f"/admin/customers/customer/{customer.pk}/change/", data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["phone"] == [f"{holder} already has it."]
    customer.refresh_from_db()
    assert customer.phone is None


def test_an_admin_edit_stores_the_normal_form(admin_client, company):
    customer = customer_create(company=company, full_name="Maria", email=NORMAL["email"])
    data = {
        "full_name": "Maria", "phone": TYPED["phone"], "email": "", "cpf": TYPED["cpf"], "is_active": "on",
        "ledger-TOTAL_FORMS": "0", "ledger-INITIAL_FORMS": "0",
    }  # fmt: skip
    response = admin_client.post(f"/admin/customers/customer/{customer.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    customer.refresh_from_db()
    assert (customer.phone, customer.email, customer.cpf) == (NORMAL["phone"], None, NORMAL["cpf"])


@pytest.mark.parametrize(
    ("field", "typed"), [("phone", "12"), ("email", "maria@"), ("cpf", "111.111.111-11")]
)
def test_the_admin_refuses_an_identifier_without_a_normal_form(admin_client, company, field, typed):
    response = admin_add(admin_client, company.pk, **{field: typed})
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == [field]
    assert not Customer.objects.filter(company=company).exists()


def test_every_writer_stores_the_normal_form(company):
    customer = Customer(company=company, full_name="Maria", **TYPED)
    customer.save()
    customer.refresh_from_db()
    assert (customer.phone, customer.email, customer.cpf) == tuple(NORMAL.values())


def test_a_save_refuses_an_identifier_without_a_normal_form(company):
    with pytest.raises(ValidationError) as refused:
        Customer(company=company, phone="12", email="not an address").save()
    assert set(refused.value.message_dict) == {"phone", "email"}
    assert not Customer.objects.filter(company=company).exists()


def test_a_blank_identifier_is_stored_as_none(company):
    first = Customer.objects.create(company=company, phone=NORMAL["phone"], email="", cpf="  ")
    second = Customer.objects.create(company=company, email=NORMAL["email"], phone="", cpf="")
    assert Customer.objects.filter(pk__in=[first.pk, second.pk], cpf__isnull=True).count() == 2
