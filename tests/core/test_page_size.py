"""The page size the OpenAPI document states is the one the lists use."""

import pytest
from django.test import Client

from core.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_the_documented_page_size_is_the_one_served(api, company):
    schema = Client().get("/api/v2/schema/?format=json").json()
    parameters = schema["paths"]["/api/v2/customers/"]["get"]["parameters"]
    (param,) = [p for p in parameters if p["name"] == "page_size"]
    assert (param["schema"]["default"], param["schema"]["maximum"]) == (DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    CustomerFactory.create_batch(DEFAULT_PAGE_SIZE + 1, company=company)
    assert len(api.get("/api/v2/customers/").json()["data"]) == DEFAULT_PAGE_SIZE
    assert len(api.get("/api/v2/customers/", page_size=MAX_PAGE_SIZE).json()["data"]) == DEFAULT_PAGE_SIZE + 1
    assert api.get("/api/v2/customers/", page_size=MAX_PAGE_SIZE + 1).status_code == 422
