"""The admin: a client's secret shown once and stored as a digest, links for by_app clients, the
merchant's externalCode; disabling from the admin cuts tokens off at once."""

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from oauth2_provider.models import AccessToken

from opendelivery.models import ClientKind, OdClient, OdMerchant
from tests.factories import CompanyFactory
from tests.opendelivery.conftest import MERCHANT_A

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/admin/opendelivery/odclient/",
        "/admin/opendelivery/odclient/add/",
        "/admin/opendelivery/odmerchantlink/",
        "/admin/opendelivery/odmerchantlink/add/",
        "/admin/opendelivery/odmerchant/",
    ],
)
def test_the_pages_render(admin_client, od_client_by_app, path):
    assert admin_client.get(path).status_code == 200


def test_the_change_pages_render(admin_client, od_client_by_app, od_client_by_merchant):
    link = od_client_by_app.links.first()
    merchant = OdMerchant.objects.get(company=od_client_by_merchant.company)
    for path in (
        f"/admin/opendelivery/odclient/{od_client_by_app.pk}/change/",
        f"/admin/opendelivery/odmerchantlink/{link.pk}/change/",
        f"/admin/opendelivery/odmerchant/{merchant.pk}/change/",
    ):
        assert admin_client.get(path).status_code == 200, path


def test_a_new_client_shows_its_secret_once_and_the_secret_gets_a_token(admin_client, client):
    company = CompanyFactory.create()
    response = admin_client.post(
        "/admin/opendelivery/odclient/add/",
        {
            "name": "Cardápio Web",
            "kind": ClientKind.BY_MERCHANT,
            "company": company.pk,
            "scope_choice": ["od.crm"],
        },
        follow=True,
    )
    assert response.status_code == 200
    text = response.content.decode()
    found = re.search(r"client_id (\S+), client_secret (\S+) ", text)
    assert found, text[:2000]
    client_id, secret = found.groups()
    od_client = OdClient.objects.get(application__client_id=client_id)
    assert secret not in od_client.application.client_secret
    link = od_client.links.get()
    assert (link.company, link.merchant_id) == (company, str(company.od_merchant.external_code))
    # Shown once: the client's page does not carry it.
    page = admin_client.get(f"/admin/opendelivery/odclient/{od_client.pk}/change/").content.decode()
    assert secret not in page
    token = client.post(
        "/v2/oauth/token",
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        content_type="application/json",
    )
    assert token.status_code == 200, token.content


def test_the_add_form_refuses_a_kind_without_its_company(admin_client):
    company = CompanyFactory.create()
    for data in (
        {"name": "x", "kind": ClientKind.BY_MERCHANT, "scope_choice": ["od.crm"]},
        {"name": "x", "kind": ClientKind.BY_APP, "company": company.pk, "scope_choice": ["od.crm"]},
    ):
        response = admin_client.post("/admin/opendelivery/odclient/add/", data)
        assert response.status_code == 200  # the form again, with its error
        assert b"errorlist" in response.content
    assert not OdClient.objects.exists()


def test_a_link_is_added_for_a_by_app_client_only(admin_client, od_client_by_app, od_client_by_merchant):
    company = CompanyFactory.create()
    response = admin_client.post(
        "/admin/opendelivery/odmerchantlink/add/",
        {"client": od_client_by_app.pk, "company": company.pk, "merchant_id": "loja-77"},
    )
    assert response.status_code == 302, response.content[:2000]
    assert od_client_by_app.links.filter(company=company, merchant_id="loja-77").exists()
    again = admin_client.post(
        "/admin/opendelivery/odmerchantlink/add/",
        {"client": od_client_by_app.pk, "company": CompanyFactory.create().pk, "merchant_id": MERCHANT_A},
    )
    assert again.status_code == 200 and b"errorlist" in again.content
    refused = admin_client.post(
        "/admin/opendelivery/odmerchantlink/add/",
        {"client": od_client_by_merchant.pk, "company": company.pk, "merchant_id": "other"},
    )
    assert refused.status_code == 200 and b"errorlist" in refused.content


def test_disabling_in_the_admin_cuts_tokens_off_at_once(admin_client, od_client_by_app, od_api):
    api = od_api(od_client_by_app)
    assert api.get("/v2/merchants").status_code == 200
    link = od_client_by_app.links.get(merchant_id=MERCHANT_A)
    admin_client.post(
        "/admin/opendelivery/odmerchantlink/",
        {"action": "disable", "_selected_action": [link.pk]},
    )
    assert api.get("/v2/merchants").status_code == 403
    admin_client.post(
        "/admin/opendelivery/odmerchantlink/",
        {"action": "enable", "_selected_action": [link.pk]},
    )
    assert api.get("/v2/merchants").status_code == 200
    admin_client.post(
        "/admin/opendelivery/odclient/",
        {"action": "disable", "_selected_action": [od_client_by_app.pk]},
    )
    assert api.get("/v2/merchants").status_code == 401
    assert not AccessToken.objects.filter(application=od_client_by_app.application).exists()


def test_rotating_the_secret_shows_the_new_one_once(admin_client, client, od_client_by_merchant):
    response = admin_client.post(
        "/admin/opendelivery/odclient/",
        {"action": "rotate_secret", "_selected_action": [od_client_by_merchant.pk]},
        follow=True,
    )
    text = response.content.decode()
    found = re.search(r"client_id (\S+), client_secret (\S+) ", text)
    assert found, text[text.find("messagelist") - 100 :][:1500]
    client_id, secret = found.groups()
    token = client.post(
        "/v2/oauth/token",
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        content_type="application/json",
    )
    assert token.status_code == 200
