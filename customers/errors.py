"""The refusals of balance changes."""

from core.errors import ValidationFailed


class BalanceLimit(ValidationFailed):
    code = "balance_limit"
    default_detail = "The balance would exceed its limit."
