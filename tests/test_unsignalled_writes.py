"""The hot paths write some rows without ``save()`` (core/db.py's compiled statements, the
validation's and the stock's hand-written ones), so no model signal is sent for them: a
``pre_save``/``post_save`` receiver connected to a model written that way would silently miss
those writes. These tests find the models written so by running the paths, and refuse receivers
on them."""

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.db.models import Model
from django.db.models.signals import post_save, pre_save

from coupons.models import Coupon, CouponUse
from coupons.services import coupon_cancel
from customers.models import Customer, LedgerEntry
from customers.services import customer_adjust_balance
from rewards.models import Reward
from tests.conftest import Api
from tests.factories import CouponFactory, CustomerFactory, RewardFactory, make_key

pytestmark = pytest.mark.django_db

WRITE = re.compile(r'\s*(?:INSERT\s+INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)
SAVE_SIGNALS = {"pre_save": pre_save, "post_save": post_save}


@contextmanager
def written_without_save(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[type[Model]]]:
    """The models whose rows are inserted or updated, while this is open, by a statement that no
    ``Model.save_base`` (the one place the ORM sends the save signals) sent."""
    written: set[type[Model]] = set()
    by_table = {model._meta.db_table: model for model in apps.get_models(include_auto_created=True)}
    saving = [0]
    save_base = Model.save_base

    def counted_save_base(self: Model, *args: Any, **kwargs: Any) -> Any:
        saving[0] += 1
        try:
            return save_base(self, *args, **kwargs)
        finally:
            saving[0] -= 1

    def record(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        found = WRITE.match(sql)
        if found and not saving[0] and found.group(1) in by_table:
            written.add(by_table[found.group(1)])
        return execute(sql, params, many, context)

    monkeypatch.setattr(Model, "save_base", counted_save_base)
    with connection.execute_wrapper(record):
        yield written


def save_receivers(models: set[type[Model]]) -> list[str]:
    """``Model: signal`` for every save signal with a receiver for one of ``models`` (a receiver
    connected without a sender counts for all of them)."""
    return sorted(
        f"{model.__name__}: {name}"
        for model in models
        for name, signal in SAVE_SIGNALS.items()
        if signal.has_listeners(model)
    )


def test_models_written_without_save_have_no_save_receivers(monkeypatch):
    customer = CustomerFactory.create(points=10_000)
    api = Api(make_key(customer.company))
    reward = RewardFactory.create(company=customer.company, points_required=10, quantity_available=5)
    coupon = CouponFactory.create(customer=customer, reward__total_usages_allowed=2)
    with written_without_save(monkeypatch) as written:
        redeemed = api.redeem(customer.pk, reward.pk)
        assert redeemed.status_code == 200, redeemed.content
        assert api.validate(customer.pk, coupon.code).status_code == 200
        added = api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 5})
        assert added.status_code == 200, added.content
        coupon_cancel(coupon_id=redeemed.json()["data"]["coupon_id"])
        customer_adjust_balance(customer_id=customer.pk, points=-1, reason="correction")
    # The paths' compiled and hand-written writes were seen, so the check below is not vacuous.
    assert {Customer, LedgerEntry, Coupon, CouponUse, Reward} <= written
    assert save_receivers(written) == []


def test_a_save_receiver_on_such_a_model_is_found():
    def receiver(**kwargs: Any) -> None:
        """Would miss every balance change ``ledger_post`` writes."""

    post_save.connect(receiver, sender=Customer, dispatch_uid="test.unsignalled")
    try:
        assert save_receivers({Customer, LedgerEntry}) == ["Customer: post_save"]
    finally:
        post_save.disconnect(sender=Customer, dispatch_uid="test.unsignalled")
    assert save_receivers({Customer, LedgerEntry}) == []
