"""The refusals of balance changes."""

from core.errors import ValidationFailed
from core.money import POINTS_BALANCE_MAX


class BalanceLimit(ValidationFailed):
    code = "balance_limit"
    default_detail = "The balance would exceed its limit."


class PointsCapReached(BalanceLimit):
    """Earning or an adjustment would take a points balance past the product's cap."""

    default_detail = f"The points balance may not exceed {POINTS_BALANCE_MAX} points."
