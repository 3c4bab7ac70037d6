"""Writes to rewards that other apps' operations need: stock, taken by a redemption and given back
by a cancel (both in coupons/services.py, inside their own transactions)."""

from django.db import connection

from core.db import statement
from rewards.models import Reward

# By hand (core/db.py says why); NULL - n stays NULL.
STOCK_MOVE = """
UPDATE {r} SET {r.quantity_redeemed} = {r.quantity_redeemed} + %s,
       {r.quantity_available} = {r.quantity_available} - %s
 WHERE {r.id} = %s"""


def reward_stock_move(*, reward_id: str, taken: int) -> None:
    """Take (``taken`` > 0, a redemption) or give back (< 0, a cancel) stock of a reward, and count
    it in the lifetime ``quantity_redeemed``. Runs in the caller's transaction, which holds the
    reward's row lock (``reward_lock``, a redemption: the availability it checked is the stock this
    takes) or the coupon's (a cancel, which only gives back). One UPDATE relative to the row as it
    is, never a read then a write; the CHECK constraints refuse stock below zero. NULL stock stays
    NULL: unlimited stays unlimited."""
    with connection.cursor() as cursor:
        cursor.execute(statement(STOCK_MOVE, r=Reward), [taken, taken, reward_id])
