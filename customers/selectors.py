from django.db.models import Q, QuerySet, Sum

from companies.models import Company
from core.db import row_fetch
from core.errors import NotFound
from core.ids import is_ksuid
from core.money import z_format
from customers.identifiers import NORMALISERS
from customers.models import Currency, Customer, EntryKind, LedgerEntry


def customer_get(*, company: Company, customer_id: str) -> Customer:
    """This company's customer, or 404: another company's customer does not exist for this key."""
    customer = (
        # Compiled once (core/db.py): most requests name a customer.
        row_fetch(Customer, for_update=False, company_id=company.pk, pk=customer_id)
        if is_ksuid(customer_id)
        else None
    )
    if customer is None:
        raise NotFound("Customer not found.")
    customer.company = company  # already loaded with the key: no query for customer.company
    return customer


def customer_by_reference(*, company: Company, reference: str) -> Customer | None:
    """The company's customer named by its id, phone or e-mail (in any of the forms
    ``customers.identifiers`` normalises), as an import file from another system names people;
    None when nobody, or more than one customer, answers to it."""
    reference = reference.strip()
    if not reference:
        return None
    query = Q(pk=reference) if is_ksuid(reference) else Q()
    for field, normalise in NORMALISERS.items():
        try:
            query |= Q(**{field: normalise(reference)})
        except ValueError:
            continue
    if not query:
        return None
    found = list(Customer.objects.filter(query, company=company)[:2])
    return found[0] if len(found) == 1 else None


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
                    "z_balance": z_format(customer.z_balance),
                    "z_ledger": z_format(z),
                }
            )
    return bad


def customer_list(
    *,
    company: Company,
    phone: str | None = None,
    email: str | None = None,
    cpf: str | None = None,
    name: str | None = None,
    search: str | None = None,
    card_code: str | None = None,
    tier: str | None = None,
    segment: str | None = None,
) -> QuerySet[Customer]:
    """Filters take normalised phone, e-mail and CPF (exact); name, card_code and search match anywhere,
    any case; tier and segment exactly (indexed with the company and the list's order)."""
    qs = Customer.objects.filter(company=company).select_related("company__loyalty_program")
    if phone:
        qs = qs.filter(phone=phone)
    if email:
        qs = qs.filter(email=email)
    if cpf:
        qs = qs.filter(cpf=cpf)
    if name:
        qs = qs.filter(full_name__icontains=name)
    if card_code:
        qs = qs.filter(card_number__icontains=card_code.strip())
    if tier:
        qs = qs.filter(tier=tier)
    if segment:
        qs = qs.filter(segment=segment)
    if search:
        term = search.strip()
        digits = "".join(ch for ch in term if ch in "0123456789")  # isdigit() also takes "²", "٣"
        query = (
            Q(full_name__icontains=term)
            | Q(email__icontains=term.lower())
            | Q(pk=term)
            | Q(card_number__icontains=term)
        )
        if digits:
            query |= Q(phone__contains=digits) | Q(cpf__contains=digits)
        qs = qs.filter(query)
    return qs


def points_history(*, customer: Customer) -> QuerySet[LedgerEntry]:
    """Every change of points, and the Z$ bonuses earned with points (Z$ spent or adjusted are not
    points activity)."""
    return LedgerEntry.objects.filter(
        Q(currency=Currency.POINTS) | Q(currency=Currency.Z, kind=EntryKind.EARN), customer=customer
    )
