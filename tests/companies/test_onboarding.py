"""Upstream's onboarding checklist passes: the key check (``GET customers/?phone=0000000000``) is 200
with an empty list, and a company's contact e-mail is required wherever a company is made, so company
and program answers carry a valid ``email``."""

import json
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.core.validators import validate_email

from companies.models import Company
from companies.services import company_create
from core.errors import ValidationFailed
from tests.conftest import Api, assert_problem
from tests.factories import CustomerFactory, make_key

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("response_format", ["envelope", "root"])
def test_the_onboarding_key_check_is_200_with_an_empty_list(company, response_format):
    CustomerFactory.create(company=company)
    api = Api(make_key(company, response_format=response_format))

    response = api.get("/api/v2/customers/", phone="0000000000")

    assert response.status_code == 200, response.content
    assert response.json()["data"] == []  # lists keep {data, meta} in both formats


def test_the_onboarding_check_without_a_key_is_401():
    assert_problem(Api(None).get("/api/v2/customers/", phone="0000000000"), 401, "authentication-required")


@pytest.mark.parametrize("phone", ["(00) 0000-0000", "+55 00 00000-0000"])
def test_a_possible_but_unassigned_number_finds_nobody(api, company, phone):
    CustomerFactory.create(company=company)
    assert api.get("/api/v2/customers/", phone=phone).json()["data"] == []


@pytest.mark.parametrize("phone", ["12", "abc", "1" * 25])
def test_what_is_no_phone_number_is_still_refused(api, phone):
    assert_problem(api.get("/api/v2/customers/", phone=phone), 422, "validation-error")


def test_a_valid_number_still_finds_its_customer(api, company):
    maria = CustomerFactory.create(company=company, phone="+5511987654321")
    assert [c["id"] for c in api.get("/api/v2/customers/", phone="11 98765-4321").json()["data"]] == [
        maria.pk
    ]


def test_create_company_requires_an_email():
    with pytest.raises(CommandError):
        call_command("create_company", "Sem Email", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="e-mail"):
        call_command("create_company", "Bad", "--email", "not-an-address", stdout=StringIO())
    assert not Company.objects.filter(name__in=["Sem Email", "Bad"]).exists()


def test_company_create_refuses_a_missing_or_bad_email():
    for email in ("", "  ", "nope"):
        with pytest.raises(ValidationFailed):
            company_create(name="X", email=email)
    assert company_create(name="Y", email=" Ola@Cantina.Example.COM ").email == "ola@cantina.example.com"


def test_the_admin_requires_a_company_email(client):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    form = {
        "name": "Cantina",
        "rate_tier": "free",
        "otp_preset": "strict",
        "country": "BR",
        "currency": "BRL",
    }
    response = client.get("/admin/companies/company/add/")
    assert response.status_code == 200
    assert response.context["adminform"].form.fields["email"].required
    response = client.post("/admin/companies/company/add/", form)
    assert response.status_code == 200  # the form again, with its error
    assert "email" in response.context["adminform"].form.errors
    assert not Company.objects.filter(name="Cantina").exists()


@pytest.mark.parametrize("response_format", ["envelope", "root"])
def test_company_and_program_answers_carry_a_valid_email(response_format):
    company = company_create(name="Cantina", email="ola@cantina.example.com", otp_preset="trusted")
    api = Api(make_key(company, response_format=response_format))
    program_id = company.loyalty_program.pk
    items = [
        *api.get("/api/v2/companies/").json()["data"],
        *api.get("/api/v2/loyalty/programs/").json()["data"],
        api.get(f"/api/v2/loyalty/programs/{program_id}/").json(),
    ]
    assert len(items) == 3
    for item in items:
        validate_email(item.get("data", item)["email"])


def test_seed_demo_gives_its_company_an_email():
    out = StringIO()
    call_command("seed_demo", "--json", stdout=out)
    company = Company.objects.get(pk=json.loads(out.getvalue().strip().splitlines()[-1])["company_id"])
    validate_email(company.email)
