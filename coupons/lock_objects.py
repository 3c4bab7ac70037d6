"""The locking reads of coupons, one function per row lock, so that every writer takes a coupon's
lock the same way.

Across apps the order is customer (``customers.lock_objects``), coupon, reward
(``rewards.lock_objects``): a redemption locks customer then reward, a cancel customer then coupon
(the reward's row only by its stock UPDATE, last), a validation and the expiry only the coupon, so
no two of them wait for each other in opposite orders.
"""

from django.db import connection
from django.db.models import QuerySet

from core.db import db_datetime, lock_clause, model_from_row, one_or_none, statement
from coupons.models import Coupon
from coupons.selectors import coupon_ref_lookup
from customers.models import Customer
from rewards.models import Reward

# The locking read of a validation, by hand (core/db.py says why): only what the refusal rule, the
# counters it writes, the answer (the customer's balances) and the webhook event (the reward's name)
# need; the customer and reward rows are wide. One statement per way of naming the coupon.
_FOR_USE = """
SELECT c.{c.id}, c.{c.code}, c.{c.status}, c.{c.remaining_usages}, c.{c.total_usages_allowed},
       c.{c.valid_until}, c.{c.customer_id}, c.{c.reward_id}, cu.{cu.points_balance}, cu.{cu.z_balance},
       r.{r.name}
  FROM {c} c
  JOIN {cu} cu ON cu.{cu.id} = c.{c.customer_id}
  JOIN {r} r ON r.{r.id} = c.{c.reward_id}
 WHERE c.{c.company_id} = %s AND c.{c.customer_id} = %s"""
FOR_USE_BY = {"code": _FOR_USE + " AND c.{c.code} = %s", "id": _FOR_USE + " AND c.{c.id} = %s"}


def coupon_lock_for_use(*, company_id: str, customer_id: str, coupon_ref: str) -> Coupon | None:
    """The customer's coupon named by ``coupon_ref`` (KSUID or code), its row locked until the
    transaction ends (``FOR UPDATE OF`` the coupon only, ``lock_clause``), so that two tills using
    it at once serialise and the second reads the first's counters. Loaded: what a validation reads
    and writes, the customer's balances (``coupon.customer``) and the reward's name
    (``coupon.reward``); every other field raises if read (``model_from_row``). None if the
    reference names none of this customer's coupons."""
    lookup = coupon_ref_lookup(customer_id=customer_id, ref=coupon_ref)
    if lookup is None:
        return None
    column, value = lookup
    sql = statement(FOR_USE_BY[column], c=Coupon, cu=Customer, r=Reward) + lock_clause("c")
    with connection.cursor() as cursor:
        cursor.execute(sql, [company_id, customer_id, value])
        row = cursor.fetchone()
    if row is None:
        return None
    pk, code, status, remaining, total, valid_until, customer_pk, reward_pk, points, z_micro, name = row
    coupon = model_from_row(
        Coupon,
        id=pk,
        company_id=company_id,
        customer_id=customer_pk,
        reward_id=reward_pk,
        code=code,
        status=status,
        total_usages_allowed=total,
        remaining_usages=remaining,
        valid_until=db_datetime(valid_until),
    )
    coupon.customer = model_from_row(
        Customer, id=customer_pk, company_id=company_id, points_balance=points, z_balance=z_micro
    )
    coupon.reward = model_from_row(Reward, id=reward_pk, company_id=company_id, name=name)
    return coupon


def coupon_lock(*, coupon_id: str) -> Coupon | None:
    """The coupon with its reward, the coupon's row locked until the transaction ends (not the
    reward's: ``FOR UPDATE OF`` the coupon), so that a cancel and a validation of it serialise;
    None if there is none."""
    return one_or_none(
        Coupon.objects.select_related("reward").select_for_update(of=("self",)).filter(pk=coupon_id)
    )


def coupons_lock_skipping_locked() -> QuerySet[Coupon]:
    """Coupons with their rewards, to be filtered and sliced into a batch: the rows read are locked
    until the transaction ends, and rows another transaction holds (a validation in progress) are
    skipped, left for the next run (``SKIP LOCKED``)."""
    return Coupon.objects.select_related("reward").select_for_update(skip_locked=True, of=("self",))
