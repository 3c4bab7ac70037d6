"""Migration customers 0006 on customers stored before every writer normalised: what has a free normal
form gets it; what has none, or whose normal form another customer holds, stays for a person to fix."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from customers.models import Customer
from tests.migrating import migrate

BEFORE = [("customers", "0005_company_in_companies_app")]


@pytest.mark.django_db(transaction=True)
def test_old_identifiers_are_normalised_where_they_can_be():
    try:
        old = migrate(BEFORE)
        OldCompany = old.get_model("companies", "Company")
        OldCustomer = old.get_model("customers", "Customer")
        company = OldCompany.objects.create(id="1" * 27, name="Cantina", slug="cantina")
        rows = {
            "typed": {"phone": "(11) 98765-4321", "email": " Maria@Example.COM", "cpf": "52998224725"},
            "normal": {"phone": "+5521912345678"},
            "twin": {"phone": "(21) 91234-5678", "email": ""},
            "broken": {"phone": "12", "cpf": "11111111111"},
        }
        for n, fields in enumerate(rows.values()):
            OldCustomer.objects.create(id=f"{n}" * 27, company=company, card_number=f"ZP-{n}", **fields)
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    found = {c.pk: (c.phone, c.email, c.cpf) for c in Customer.objects.all()}
    assert found == {
        "0" * 27: ("+5511987654321", "maria@example.com", "52998224725"),
        "1" * 27: ("+5521912345678", None, None),
        "2" * 27: ("(21) 91234-5678", None, None),  # its normal form is the customer above's
        "3" * 27: ("12", None, "11111111111"),
    }
