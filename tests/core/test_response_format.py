"""Each API key answers in its response format: ``envelope`` ({data, meta}, the
default) or ``root`` (bare objects, exactly as the current upstream document). docs/api.md."""

import json
import re
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from companies.models import ApiKey
from tests.conftest import Api, assert_problem
from tests.factories import CompanyFactory, CustomerFactory, make_key

pytestmark = pytest.mark.django_db


def test_a_new_key_answers_in_the_envelope():
    customer = CustomerFactory.create(points=10)
    body = Api(make_key(customer.company)).get(f"/api/v2/customers/{customer.pk}/").json()
    assert set(body) == {"data", "meta"} and body["data"]["id"] == customer.pk


def test_a_root_key_gets_the_bare_object_and_the_same_fields():
    customer = CustomerFactory.create(points=10)
    envelope = Api(make_key(customer.company)).get(f"/api/v2/customers/{customer.pk}/").json()
    root = Api(make_key(customer.company, response_format="root")).get(f"/api/v2/customers/{customer.pk}/")
    assert root.status_code == 200 and root.json() == envelope["data"]


def test_root_points_history_is_count_next_previous_results_and_next_leads_on():
    customer = CustomerFactory.create(points=10)  # one ledger row
    root = Api(make_key(customer.company, response_format="root"))
    api = Api(make_key(customer.company))
    for amount in (5, 6):
        assert api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": amount}).status_code == 200
    first = root.get(f"/api/v2/customers/{customer.pk}/points/history/", page_size=2).json()
    assert set(first) == {"count", "next", "previous", "results"}
    assert (first["count"], len(first["results"]), first["previous"]) == (3, 2, None)
    assert re.fullmatch(
        r"http://testserver/api/v2/customers/\w+/points/history/\?page_size=2&cursor=\w+", first["next"]
    )
    rest = root.client.get(first["next"]).json()
    assert (rest["count"], len(rest["results"]), rest["next"]) == (3, 1, None)
    seen = [row["id"] for row in first["results"] + rest["results"]]
    envelope = api.get(f"/api/v2/customers/{customer.pk}/points/history/", page_size=3).json()
    assert seen == [row["id"] for row in envelope["data"]] and envelope["meta"]["has_next"] is False


def test_cursor_lists_keep_data_and_meta_in_root_as_the_document_describes_them():
    customer = CustomerFactory.create()
    body = Api(make_key(customer.company, response_format="root")).get("/api/v2/customers/").json()
    assert set(body) == {"data", "meta"} and body["meta"]["has_next"] is False


def test_errors_are_problem_json_in_both_formats():
    company = CompanyFactory.create()
    for fmt in ("envelope", "root"):
        response = Api(make_key(company, response_format=fmt)).get(
            "/api/v2/customers/" + "2" + "0" * 26 + "/"
        )
        body = assert_problem(response, 404, "not-found")
        assert "data" not in body


def test_create_api_key_format_root_prints_and_answers_root():
    company = CompanyFactory.create()
    out = StringIO()
    call_command("create_api_key", company.pk, "--format", "root", stdout=out)
    printed = json.loads(out.getvalue())
    assert printed["response_format"] == "root"
    assert ApiKey.objects.get(pk=printed["api_key_id"]).response_format == "root"
    assert "data" not in Api(printed["api_key"]).get(f"/api/v2/companies/{company.pk}/").json()


def test_changing_the_format_in_the_admin_takes_effect_at_once(client):
    company = CompanyFactory.create()
    raw = make_key(company)
    api = Api(raw)
    assert "data" in api.get(f"/api/v2/companies/{company.pk}/").json()  # now cached
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    key = ApiKey.objects.get(company=company)
    response = client.post(
        f"/admin/companies/apikey/{key.pk}/change/",
        {"name": key.name, "read_only": "", "response_format": "root"},
    )
    assert response.status_code == 302, response.content
    assert "data" not in api.get(f"/api/v2/companies/{company.pk}/").json()
