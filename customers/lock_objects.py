"""The locking reads of customers, one function per row lock, so that every writer takes a
customer's lock the same way. Across apps the order is customer, coupon, reward
(coupons/services.py): the customer first."""

from typing import Any

from core.db import row_fetch
from customers.models import Customer


def customer_lock(*, customer_id: str, company_id: str | None = None) -> Customer | None:
    """The customer, every column loaded and its row locked until the transaction ends (``SELECT
    ... FOR UPDATE``; SQLite: the IMMEDIATE transaction already holds the write lock): every change
    of a balance holds it, so the balance ``ledger_post`` reads is the one its UPDATE overwrites.
    ``company_id`` scopes the lookup to a partner's company; None if there is no such customer."""
    where: dict[str, Any] = (
        {"pk": customer_id} if company_id is None else {"company_id": company_id, "pk": customer_id}
    )
    return row_fetch(Customer, for_update=True, **where)
