"""GET /companies/ and /loyalty/programs/: the key's own company and its one program."""

import json
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from companies.models import Company, LoyaltyProgram
from companies.services import company_create, company_save, loyalty_program_save
from tests.conftest import Api, assert_problem
from tests.factories import CompanyFactory, CustomerFactory, RewardFactory, make_key

pytestmark = pytest.mark.django_db


def test_company_list_holds_exactly_the_keys_company_with_its_profile(api, company):
    CompanyFactory.create()  # another company: never listed
    CustomerFactory.create(company=company)
    CustomerFactory.create(company=company, is_active=False)
    company.trading_name, company.city = "Eos Restaurante", "São Paulo"
    company_save(company=company)
    body = api.get("/api/v2/companies/").json()
    assert body["meta"] == {"cursor": None, "has_next": False, "count": None}
    (item,) = body["data"]
    assert (item["id"], item["name"], item["trading_name"], item["city"]) == (
        company.pk,
        company.name,
        "Eos Restaurante",
        "São Paulo",
    )
    assert (item["active_customers_count"], item["loyalty_programs_count"]) == (1, 1)
    assert item["email"] == company.email and item["logo_uuid"] is None and item["currency"] == "BRL"
    assert item["slug"].startswith("restaurant-")


def test_company_detail_is_the_keys_company_and_another_id_is_404(api, company):
    response = api.get(f"/api/v2/companies/{company.pk}/")
    assert response.status_code == 200
    assert response.json()["data"]["id"] == company.pk
    other = CompanyFactory.create()
    assert_problem(api.get(f"/api/v2/companies/{other.pk}/"), 404, "not-found")


@pytest.mark.parametrize(
    "path", ["/api/v2/companies/", "/api/v2/loyalty/programs/", "/api/v2/companies/{id}/"]
)
def test_profile_reads_need_a_key(company, path):
    assert_problem(Api(None).get(path.format(id=company.pk)), 401, "authentication-required")


def test_every_company_has_exactly_one_program_however_it_is_created():
    made = [
        company_create(name="Eos", email="eos@example.com"),
        CompanyFactory.create(),
        Company.objects.create(name="Plain"),
    ]
    call_command("create_company", "Cmd", "--email", "cmd@example.com", stdout=(out := StringIO()))
    made.append(Company.objects.get(pk=json.loads(out.getvalue())["company_id"]))
    for company in made:
        program = LoyaltyProgram.objects.get(company=company)
        assert (program.name, program.slug) == (company.name, company.slug)
    with pytest.raises(Exception):  # noqa: B017  (the database's unique constraint)
        LoyaltyProgram.objects.create(company=made[0], name="Second", slug="second")


def test_program_list_and_detail(api, company):
    RewardFactory.create(company=company)
    CustomerFactory.create(company=company)
    program = company.loyalty_program
    (item,) = api.get("/api/v2/loyalty/programs/").json()["data"]
    assert (item["id"], item["company_id"], item["name"]) == (program.pk, company.pk, company.name)
    assert (item["rewards_count"], item["active_customers_count"]) == (1, 1)
    assert (item["points_name"], item["points_per_currency"], item["point_expiration_days"]) == (
        "points",
        "1.00",
        0,
    )
    assert item["tiers_enabled"] is False
    assert (
        json.loads(item["tier_definitions"])
        == item["tiers"]
        == [
            {"name": "bronze", "min_points": 0},
            {"name": "silver", "min_points": 1000},
            {"name": "gold", "min_points": 5000},
        ]
    )
    detail = api.get(f"/api/v2/loyalty/programs/{program.pk}/")
    assert detail.json()["data"] == item


def test_another_companys_program_is_404(api):
    other = CompanyFactory.create().loyalty_program
    assert_problem(api.get(f"/api/v2/loyalty/programs/{other.pk}/"), 404, "not-found")


def test_customers_and_rewards_name_the_program(api, company, customer):
    program = company.loyalty_program
    program.name, program.points_name = "Clube Eos", "estrelas"
    loyalty_program_save(program=program)  # forgets the key's cached company and program
    RewardFactory.create(company=company)
    expected = (program.pk, "Clube Eos")
    detail = api.get(f"/api/v2/customers/{customer.pk}/").json()["data"]
    (listed,) = api.get("/api/v2/customers/").json()["data"]
    (reward,) = api.get("/api/v2/rewards/").json()["data"]
    for item in (detail, listed, reward):
        assert (item["program_id"], item["program_name"]) == expected
    assert api.get(f"/api/v2/customers/{customer.pk}/points/").json()["data"]["points_name"] == "estrelas"


@pytest.mark.parametrize(
    "tiers",
    [
        [{"name": "gold", "min_points": 10}, {"name": "silver", "min_points": 5}],
        [{"name": "diamond", "min_points": 0}],
        [{"name": "bronze", "min_points": -1}],
        {"bronze": 0},
    ],
)
def test_a_malformed_tier_list_is_refused(tiers):
    program = CompanyFactory.create().loyalty_program
    program.tier_definitions = tiers
    with pytest.raises(ValidationError):
        program.full_clean()


def test_the_program_is_edited_in_the_admin(client, company):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    program = company.loyalty_program
    page = f"/admin/companies/loyaltyprogram/{program.pk}/change/"
    assert client.get(page).status_code == 200
    data = {
        "name": "Clube",
        "slug": "clube",
        "points_name": "estrelas",
        "point_expiration_days": "365",
        "points_per_currency": "2.50",
        "minimum_points_redemption": "100",
        "z_bonus_per_point": "0.25",
        "tiers_enabled": "on",
        "tier_definitions": '[{"name": "silver", "min_points": 0}, {"name": "vip", "min_points": 9000}]',
        "status": "published",
        "is_active": "on",
    }
    assert client.post(page, data).status_code == 302
    program.refresh_from_db()
    assert (program.points_name, program.tier_for(9000)) == ("estrelas", "vip")
    assert program.z_bonus_micro(4) == 1_000_000
    refused = client.post(page, data | {"tier_definitions": '[{"name": "vip", "min_points": -5}]'})
    assert refused.status_code == 200  # the form again, with its error
    assert client.get("/admin/companies/loyaltyprogram/add/").status_code == 403


def test_the_company_profile_is_edited_in_the_admin(client, company):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    page = f"/admin/companies/company/{company.pk}/change/"
    assert client.get(page).status_code == 200
    data = {
        "name": company.name,
        "rate_tier": "free",
        "slug": company.slug,
        "email": "ola@eos.example",
        "city": "Recife",
        "currency": "BRL",
        "country": "BR",
        "status": "active",
        "is_active": "on",
        "social_links": "{}",
    }
    assert client.post(page, data).status_code == 302
    api = Api(make_key(company))
    item = api.get(f"/api/v2/companies/{company.pk}/").json()["data"]
    assert (item["email"], item["city"]) == ("ola@eos.example", "Recife")
