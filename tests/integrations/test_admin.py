"""Ops see each order's outcome in the admin, and configure integrations there."""

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from integrations.models import InboundBatch, Integration, OrderOutcome

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    return client


def test_each_orders_outcome_and_reason_is_in_the_admin(admin_client, partner, repediu, shop):
    body: list[Any] = [
        {"cliente": "Maria", "Celular": "+5511987654321", "Valor": "12.00", "id_venda": 71},
        {"cliente": "Não Informado", "Valor": "45.00", "id_venda": 72},
        {"cliente": "Sem valor", "Celular": "+5511911112222", "id_venda": 73},
    ]
    batch_id = partner.post("/api/v2/webhooks/integrations/repediu/", body).json()["data"]["id"]
    call_command("integration_worker", "--once", stdout=None)

    page = admin_client.get(f"/admin/integrations/inboundbatch/{batch_id}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    for shown in ("credited", "skipped", "failed", "No usable customer identifier", "Valor is required"):
        assert shown in text, shown
    listing = admin_client.get("/admin/integrations/orderoutcome/", {"outcome": "failed"})
    assert listing.status_code == 200 and "73" in listing.content.decode()
    assert OrderOutcome.objects.filter(batch_id=batch_id).count() == 3
    assert InboundBatch.objects.get(pk=batch_id).status == "processed"


def test_ops_add_an_integration_in_the_admin(admin_client, shop):
    answer = admin_client.post(
        "/admin/integrations/integration/add/",
        {
            "company": shop.pk,
            "slug": "saipos",
            "name": "Saipos",
            "adapter": "generic",
            "points_per_unit": "1.5",
            "rounding": "half_up",
            "enabled": "on",
            "otp_preset": "",
            "keys-TOTAL_FORMS": "0",  # the inline of the API keys bound to it
            "keys-INITIAL_FORMS": "0",
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    made = Integration.objects.get(company=shop, slug="saipos")
    assert (made.adapter, str(made.points_per_unit), made.rounding) == ("generic", "1.5000", "half_up")


def test_ops_bind_the_partners_key_in_the_admin_and_only_one_of_its_company(admin_client, shop):
    from companies.services import api_key_create
    from integrations.models import IntegrationKey
    from tests.factories import CompanyFactory

    own, _ = api_key_create(company=shop, name="goomer")
    theirs, _ = api_key_create(company=CompanyFactory.create(), name="theirs")
    form = {
        "company": shop.pk,
        "slug": "goomer",
        "name": "Goomer",
        "adapter": "generic",
        "points_per_unit": "1",
        "rounding": "down",
        "enabled": "on",
        "otp_preset": "relaxed",
        "keys-TOTAL_FORMS": "1",
        "keys-INITIAL_FORMS": "0",
        "keys-0-api_key": theirs.pk,
    }
    refused = admin_client.post("/admin/integrations/integration/add/", form)
    assert refused.status_code == 200 and "must be one of the integration" in refused.content.decode()
    assert not Integration.objects.filter(slug="goomer").exists()
    made = admin_client.post("/admin/integrations/integration/add/", {**form, "keys-0-api_key": own.pk})
    assert made.status_code == 302, made.content.decode()[:2000]
    assert IntegrationKey.objects.get().integration == Integration.objects.get(company=shop, slug="goomer")
