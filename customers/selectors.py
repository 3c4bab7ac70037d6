from django.db.models import Q, Sum

from customers.models import Currency, Customer, LedgerEntry
from zupy.errors import NotFound
from zupy.ids import is_ksuid
from zupy.models import Company


def customer_get(*, company: Company, customer_id: str) -> Customer:
    """This company's customer, or 404: another company's customer does not exist for this key."""
    customer = (
        Customer.objects.filter(company=company, pk=customer_id).first() if is_ksuid(customer_id) else None
    )
    if customer is None:
        raise NotFound("Customer not found.")
    return customer


def ledger_mismatches() -> list[dict[str, object]]:
    """Customers whose stored balances differ from the sums of their ledger rows."""
    sums = {
        row["customer_id"]: row
        for row in LedgerEntry.objects.values("customer_id").annotate(
            points=Sum("amount", filter=Q(currency=Currency.POINTS)),
            z=Sum("amount", filter=Q(currency=Currency.Z)),
        )
    }
    bad: list[dict[str, object]] = []
    for customer in Customer.objects.only("id", "points_balance", "z_balance").iterator(chunk_size=2000):
        row = sums.get(customer.pk, {})
        points = row.get("points") or 0
        z = row.get("z") or 0
        if points != customer.points_balance or z != customer.z_balance:
            bad.append(
                {
                    "customer_id": customer.pk,
                    "points_balance": customer.points_balance,
                    "points_ledger": str(points),
                    "z_balance": str(customer.z_balance),
                    "z_ledger": str(z),
                }
            )
    return bad
