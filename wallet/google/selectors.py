"""Reads of the Google platform: a pass with everything its object shows."""

from core.db import one_or_none
from wallet.models import WalletPass


def pass_loaded(pass_id: str) -> WalletPass | None:
    """The pass with its company (loyalty program, design), customer, coupon and reward."""
    return one_or_none(
        WalletPass.objects.select_related(
            "company",
            "company__loyalty_program",
            "company__wallet_design",
            "customer",
            "coupon",
            "coupon__reward",
        ).filter(pk=pass_id)
    )
