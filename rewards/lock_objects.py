"""The locking reads of rewards, one function per row lock, so that every writer takes a reward's
lock the same way. Across apps the order is customer, coupon, reward (coupons/services.py)."""

from core.db import row_fetch
from rewards.models import Reward


def reward_lock(*, company_id: str, reward_id: str) -> Reward | None:
    """The company's reward, every column loaded and its row locked until the transaction ends
    (``SELECT ... FOR UPDATE``; SQLite: the IMMEDIATE transaction already holds the write lock), so
    that its availability and stock cannot change before the caller takes stock; None if the
    company has no such reward."""
    return row_fetch(Reward, for_update=True, company_id=company_id, pk=reward_id)
