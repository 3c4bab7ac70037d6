"""Ops read each order's outcome in the admin; nobody edits it there (the customer events write it)."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client

from opendelivery.models import OdOrder
from opendelivery.orders import od_customer_event, od_merchant_configure
from tests.factories import CompanyFactory
from tests.opendelivery.test_orders_services import cancelled, created

pytestmark = pytest.mark.django_db


def test_ops_see_each_orders_outcome_and_cannot_change_it(client: Client) -> None:
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    company = CompanyFactory.create()
    od_merchant_configure(company=company, points_per_unit=Decimal(1))
    od_customer_event(company=company, data=created("order-1"))
    od_customer_event(company=company, data=cancelled("order-1"))
    order = OdOrder.objects.get()

    listing = client.get("/admin/opendelivery/odorder/", {"status": "cancelled"})
    assert listing.status_code == 200 and b"order-1" in listing.content
    page = client.get(f"/admin/opendelivery/odorder/{order.pk}/change/")
    assert page.status_code == 200
    assert b"50 of 50 points taken back" in page.content
    assert b'name="_save"' not in page.content
    assert client.get("/admin/opendelivery/odorder/add/").status_code == 403
    client.post(f"/admin/opendelivery/odorder/{order.pk}/delete/", {"post": "yes"})
    assert OdOrder.objects.filter(pk=order.pk).exists()
