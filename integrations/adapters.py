"""Reading a partner's body as orders: one adapter per format. An adapter only maps field names and
parses values; it never touches the database. A bad order is an ``OrderError`` for that order alone,
so one bad order never blocks the rest of its batch."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from integrations.models import Adapter

# An order id longer than this is refused (the outcome column's width).
ORDER_ID_MAX = 100
# An order's total: at most this, in cents. As text, ASCII digits with a decimal point or comma.
AMOUNT_MAX = Decimal("10000000")
CENT = Decimal("0.01")
_DECIMAL_TEXT = re.compile(r"[0-9]{1,8}(?:[.,][0-9]{1,12})?|[.,][0-9]{1,12}")


class OrderError(ValueError):
    """This order cannot be read: the message is the reason recorded for it."""


@dataclass(frozen=True)
class Order:
    order_id: str
    amount: Decimal
    name: str
    phone: str  # raw, as sent: normalised where the customer is identified
    email: str
    cpf: str


def printable(value: object, limit: int = ORDER_ID_MAX) -> str:
    """``value`` as text fit for a column of at most ``limit`` characters: PostgreSQL refuses NUL."""
    return "".join(c if c.isprintable() else "?" for c in str(value))[:limit]


def _text(item: dict[str, Any], field: str) -> str:
    value = item.get(field)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise OrderError(f"{field} must be a string (or an integer).")
    text = str(value).strip()
    if "\x00" in text:
        raise OrderError(f"{field} contains a NUL character.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # JSON's "\ud800": an escape of half a character
        raise OrderError(f"{field} contains a lone UTF-16 surrogate, which is not text.") from exc
    return text


def _amount(item: dict[str, Any], field: str) -> Decimal:
    value = item.get(field)
    if value is None or value == "":
        raise OrderError(f'{field} is required: the order total, e.g. "89.90".')
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        # JSON's true/false are booleans, not the numbers 1 and 0.
        kind = (
            "a boolean" if isinstance(value, bool) else "an array" if isinstance(value, list) else "an object"
        )
        raise OrderError(
            f'{field} must be the order total as a number or a decimal string (e.g. "89.90"), not {kind}.'
        )
    text = str(value).strip()
    if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(text):
        # Decimal() alone would read "٣" as 3 and "1_000" as 1000: a total is ASCII digits.
        raise OrderError(f'{field} is not a number: {text[:40]!r} (e.g. "89.90" or "89,90").')
    try:
        amount = Decimal(text.replace(",", "."))
    except InvalidOperation as exc:
        raise OrderError(f"{field} is not a number: {text[:40]!r}.") from exc
    if not amount.is_finite() or amount < 0 or amount > AMOUNT_MAX:
        raise OrderError(f"{field} must be a total between 0 and {AMOUNT_MAX}.")
    # A total is in cents: 1e-999999999 (which the database cannot store) is 0.00, 12.345 is 12.35.
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _order_id(item: dict[str, Any], field: str) -> str:
    order_id = _text(item, field)
    if not order_id:
        raise OrderError(f"{field} is required: the sale's unique id, which deduplicates it.")
    if len(order_id) > ORDER_ID_MAX:
        raise OrderError(f"{field} may have at most {ORDER_ID_MAX} characters.")
    return order_id


def repediu(item: dict[str, Any]) -> Order:
    """Repediu's sale: ``cliente``, ``Celular``, ``Email``, ``CpfCnpj``, ``Valor``, ``id_venda``."""
    return Order(
        order_id=_order_id(item, "id_venda"),
        amount=_amount(item, "Valor"),
        name=_text(item, "cliente"),
        phone=_text(item, "Celular"),
        email=_text(item, "Email"),
        cpf=_text(item, "CpfCnpj"),
    )


def generic(item: dict[str, Any]) -> Order:
    """The guide's catch-all format: ``customer_name``, ``customer_phone``, ``customer_email``,
    ``customer_cpf``, ``order_total``, ``order_id``."""
    return Order(
        order_id=_order_id(item, "order_id"),
        amount=_amount(item, "order_total"),
        name=_text(item, "customer_name"),
        phone=_text(item, "customer_phone"),
        email=_text(item, "customer_email"),
        cpf=_text(item, "customer_cpf"),
    )


ADAPTERS: dict[str, Callable[[dict[str, Any]], Order]] = {Adapter.REPEDIU: repediu, Adapter.GENERIC: generic}


def order_items(body: Any) -> list[Any]:
    """The orders of a parsed body: an array's items, or the one object."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        return [body]
    raise OrderError("The body is neither an array of orders nor one order object.")


def order_read(adapter: str, item: Any) -> Order:
    if not isinstance(item, dict):
        raise OrderError("An order must be a JSON object.")
    return ADAPTERS[adapter](item)
