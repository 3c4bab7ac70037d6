"""Money as integers, exact on every database (see docs/money.md).

Points are whole numbers. Z$ are stored and computed as integer micro-units (1 Z$ = 1 000 000
micro-Z$), so a sum is exact on SQLite (which keeps decimals as binary floating point) as on
PostgreSQL, and the ledger's arithmetic CHECK holds on both. Z$ become a decimal string only at the
edge, with the contract's six places ("60.000000").

Every balance and counter column is 64-bit; the storage bounds sit far inside it, so that even
``balance_before + amount`` in a CHECK cannot overflow. A change that would cross one is refused
with 422 ``balance_limit`` by ``customers.services.ledger_post`` and, behind it, by CHECK constraints.

The product's caps on points sit far inside the storage bound; this module is their one statement,
read by the request serializer, the services, the admin and the benchmark's hand-written SQL.
"""

from decimal import Decimal

from core.errors import ValidationFailed

Z_PLACES = 6
Z_MICRO = 10**Z_PLACES  # micro-Z$ per Z$
POINTS_MAX = 10**15  # any points balance, lifetime counter or ledger amount
Z_MICRO_MAX = 10**18  # any Z$ balance or ledger amount: 10^12 Z$ (int64 max is 9.2 * 10^18)
# What earning or an admin's adjustment may bring one customer's points balance to (a refund, which
# gives back points already spent, is held only by POINTS_MAX).
POINTS_BALANCE_MAX = 10**9
POINTS_PER_ADD_MAX = 10**6  # one award through points/add
# A program's Z$ bonus per point awarded (companies.LoyaltyProgram.z_bonus_per_point): with the
# largest award it is 10^9 Z$, far inside Z_MICRO_MAX.
Z_BONUS_PER_POINT_MAX = Decimal(1000)


class ZAmountInvalid(ValidationFailed):
    code = "z_amount_invalid"
    default_detail = "Z$ amounts are decimal numbers with at most 6 places."


def z_to_micro(value: Decimal | int | str) -> int:
    """Z$ (a decimal number) as micro-Z$, exactly; more than 6 places or not a number is a 422."""
    try:
        scaled = Decimal(value).scaleb(Z_PLACES)
        exact = scaled.is_finite() and scaled == scaled.to_integral_value()
    except (ArithmeticError, ValueError, TypeError):  # decimal's InvalidOperation, Overflow, ...
        exact = False
    if not exact:
        raise ZAmountInvalid(f"Not a Z$ amount with at most {Z_PLACES} decimal places: {value!r}.")
    if abs(scaled) > Z_MICRO_MAX:
        raise ZAmountInvalid(f"A Z$ amount may not exceed {Z_MICRO_MAX // Z_MICRO} in size.")
    return int(scaled)


def z_format(micro: int) -> str:
    """micro-Z$ as the contract writes Z$: a decimal string with exactly 6 places."""
    whole, frac = divmod(abs(micro), Z_MICRO)
    return f"{'-' if micro < 0 else ''}{whole}.{frac:0{Z_PLACES}d}"


def times(amount: int, factor: Decimal) -> int:
    """``amount * factor`` as an integer, rounded half to even (what ``Decimal.quantize`` does in the
    default context), so integer and decimal arithmetic of the same amounts agree."""
    num, den = factor.as_integer_ratio()
    quotient, rest = divmod(amount * num, den)
    if 2 * rest > den or (2 * rest == den and quotient % 2):
        quotient += 1
    return quotient


def exceeds_share(part: int, whole: int, share: Decimal) -> bool:
    """``part > whole * share``, exactly."""
    num, den = share.as_integer_ratio()
    return part * den > whole * num
