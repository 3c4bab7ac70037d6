"""Migrations zupy 0003 and customers 0004 on a database that holds companies and customers from
before them: every company gets its one program and a slug, every customer a card number (unique per
company), its earning visits counted from the ledger and its segment."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from companies.models import Company, LoyaltyProgram
from customers.models import Customer
from tests.migrating import migrate

BEFORE = [("zupy", "0002_idempotencyrecord"), ("customers", "0003_money_as_64_bit_integers")]


@pytest.mark.django_db(transaction=True)
def test_old_companies_get_a_program_and_old_customers_a_card():
    try:
        old = migrate(BEFORE)
        OldCompany = old.get_model("zupy", "Company")
        OldCustomer = old.get_model("customers", "Customer")
        OldEntry = old.get_model("customers", "LedgerEntry")
        first = OldCompany.objects.create(id="1" * 27, name="Café Central")
        second = OldCompany.objects.create(id="2" * 27, name="Café Central")
        regular = OldCustomer.objects.create(id="3" * 27, company=first, phone="+5511900000001")
        OldCustomer.objects.create(id="4" * 27, company=first, phone="+5511900000002")
        OldCustomer.objects.create(id="5" * 27, company=second, phone="+5511900000001")
        for n in range(5):
            OldEntry.objects.create(
                id=f"{n}" + "e" * 26, company=first, customer=regular, currency="points", kind="earn",
                amount=10, balance_before=10 * n, balance_after=10 * (n + 1), created_at=timezone.now(),
            )  # fmt: skip
        OldCustomer.objects.filter(pk=regular.pk).update(
            points_balance=50, points_earned=50, last_activity_date=timezone.now()
        )
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    companies = list(Company.objects.order_by("id"))
    slugs = {c.slug for c in companies}
    assert len(slugs) == 2 and all(slug.startswith("cafe-central-") for slug in slugs)
    assert {p.company_id for p in LoyaltyProgram.objects.all()} == {c.pk for c in companies}
    customers = {c.pk: c for c in Customer.objects.all()}
    assert len({(c.company_id, c.card_number) for c in customers.values()}) == 3
    assert all(c.card_number.startswith("ZP-") for c in customers.values())
    assert (customers["3" * 27].visit_count, customers["3" * 27].segment) == (5, "loyal")
    assert (customers["4" * 27].visit_count, customers["4" * 27].segment) == (0, "new")
