"""core/db.py: statements compiled once, and server-side prepared statements on PostgreSQL."""

import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import FieldDoesNotExist
from django.db import connection, transaction

from core.db import (
    DeferredFieldRead,
    db_datetime,
    model_from_row,
    row_fetch,
    row_insert_unless_taken,
    row_update,
    rows_insert,
    statement,
)
from coupons.lock_objects import coupon_lock_for_use
from coupons.models import Coupon
from customers.models import Customer, LedgerEntry
from rewards.models import Reward
from tests.factories import CouponFactory, CustomerFactory, RewardFactory

pytestmark = pytest.mark.django_db


def test_row_fetch_loads_every_field_as_the_orm_does():
    reward = RewardFactory.create(monetary_value=Decimal("12.50"), max_redemptions_per_customer=2)
    fetched = row_fetch(Reward, for_update=False, company_id=reward.company_id, pk=reward.pk)
    assert fetched is not None
    orm = Reward.objects.get(pk=reward.pk)
    for field in Reward._meta.concrete_fields:
        assert getattr(fetched, field.attname) == getattr(orm, field.attname), field.name
    assert fetched.redemption_limit == 2  # the database-computed column too
    assert not fetched._state.adding


def test_row_fetch_is_scoped_by_every_condition():
    customer = CustomerFactory.create()
    other = CustomerFactory.create()
    assert row_fetch(Customer, for_update=False, company_id=other.company_id, pk=customer.pk) is None
    assert row_fetch(Customer, for_update=False, company_id=customer.company_id, pk="nope") is None


def test_row_fetch_for_update_takes_the_row_lock():
    customer = CustomerFactory.create()
    with transaction.atomic():
        row_fetch(Customer, for_update=True, company_id=customer.company_id, pk=customer.pk)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND mode = 'RowShareLock' "
                "AND relation = 'customers_customer'::regclass"
            )
            assert cursor.fetchone()[0] == 1


def test_row_update_writes_only_the_named_fields_and_stamps_auto_now():
    customer = CustomerFactory.create(points=10)
    stale = Customer.objects.get(pk=customer.pk)
    Customer.objects.filter(pk=customer.pk).update(full_name="Changed elsewhere")
    stale.points_balance = 11
    before = stale.updated_at
    row_update(stale, ["points_balance", "updated_at"])
    fresh = Customer.objects.get(pk=customer.pk)
    assert fresh.points_balance == 11
    assert fresh.full_name == "Changed elsewhere"  # not listed: not written back
    assert fresh.updated_at > before


def test_rows_insert_writes_every_row_in_one_statement(django_assert_num_queries):
    customer = CustomerFactory.create()
    entries = [
        LedgerEntry(
            company_id=customer.company_id,
            customer=customer,
            currency="points",
            kind="earn",
            amount=n,
            balance_before=0,
            balance_after=n,
        )
        for n in (1, 2, 3)
    ]
    with django_assert_num_queries(1):
        rows_insert(entries)
    stored = LedgerEntry.objects.filter(customer=customer).order_by("amount")
    assert [e.amount for e in stored] == [1, 2, 3]
    assert all(e.created_at is not None for e in stored)


def test_insert_unless_taken_says_whether_it_inserted():
    coupon = CouponFactory.create()
    twin = CouponFactory.build(
        company=coupon.company, customer=coupon.customer, reward=coupon.reward, code=coupon.code
    )
    assert row_insert_unless_taken(twin, unique="code") is False
    twin.code = "CZ-23456789"
    assert row_insert_unless_taken(twin, unique="code") is True
    assert not twin._state.adding


def test_model_from_row_refuses_a_relation_name():
    # "customer" (not "customer_id") would be dropped and then loaded lazily: one query per request.
    with pytest.raises(TypeError, match="customer"):
        model_from_row(LedgerEntry, id="x", customer=object())


def test_model_from_row_refuses_to_load_a_field_it_was_not_given(django_assert_num_queries):
    customer = CustomerFactory.create(points=7)
    partial = model_from_row(Customer, id=customer.pk, company_id=customer.company_id, points_balance=7)
    with django_assert_num_queries(0):
        assert partial.points_balance == 7
        with pytest.raises(DeferredFieldRead, match="Customer: full_name not loaded"):
            partial.full_name  # noqa: B018
    assert partial.get_deferred_fields() >= {"full_name", "z_balance"}
    # Only these instances: the ORM's own deferred fields still load themselves (a second query).
    with django_assert_num_queries(2):
        assert Customer.objects.only("id").get(pk=customer.pk).points_balance == 7


def test_a_validations_locked_coupon_has_only_what_the_statement_read():
    coupon = CouponFactory.create()
    with transaction.atomic():
        locked = coupon_lock_for_use(
            company_id=coupon.company_id, customer_id=coupon.customer_id, coupon_ref=coupon.code
        )
        assert locked is not None
        assert (locked.code, locked.customer.points_balance, locked.reward.name) == (
            coupon.code,
            coupon.customer.points_balance,
            coupon.reward.name,
        )
        for read in (
            lambda: locked.points_spent,
            lambda: locked.customer.email,
            lambda: locked.reward.points_required,
        ):
            with pytest.raises(DeferredFieldRead):
                read()


def test_model_from_row_instances_save_their_loaded_fields():
    coupon = CouponFactory.create()
    partial = model_from_row(Coupon, id=coupon.pk, status="expired")
    partial.save(update_fields=["status", "updated_at"])
    assert Coupon.objects.get(pk=coupon.pk).status == "expired"


def test_statement_takes_table_and_column_names_from_the_models():
    sql = statement(
        "UPDATE {r} SET {r.quantity_available} = %s WHERE {r.company} = %s AND {r.pk} = %s", r=Reward
    )
    assert (
        sql == 'UPDATE "rewards_reward" SET "quantity_available" = %s WHERE "company_id" = %s AND "id" = %s'
    )
    with pytest.raises(FieldDoesNotExist):
        statement("SELECT {r.stock} FROM {r}", r=Reward)


def test_db_datetime_reads_both_backends():
    aware = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert db_datetime(aware) is aware
    assert db_datetime("2026-11-26 12:00:00") == aware  # SQLite's naive UTC text
    assert db_datetime(datetime(2026, 11, 26, 12, 0)) == aware


@pytest.mark.django_db(transaction=True)
def test_repeated_statements_are_prepared_on_the_server():
    customer = CustomerFactory.create()
    connection.close()  # a fresh session: nothing prepared yet
    for _ in range(8):
        assert row_fetch(Customer, for_update=False, company_id=customer.company_id, pk=customer.pk)
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("customers_customer" in statement for statement in prepared), prepared


@pytest.mark.parametrize(
    ("value", "binding", "threshold"), [("5", True, 5), ("0", True, 0), ("off", False, None)]
)
def test_db_prepare_threshold_setting(value, binding, threshold):
    code = (
        "from zupy import settings as s; o = s.DATABASES['default']['OPTIONS']; "
        "print(o['server_side_binding'], o['prepare_threshold'])"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "zupy.settings",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused",
        "DB_PREPARE_THRESHOLD": value,
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [str(binding), str(threshold)]
