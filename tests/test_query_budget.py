"""SQL statements per request at their floor (the benchmark's targets, counted, not timed)."""

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from companies.models import ApiKey
from coupons.models import Coupon, CouponUse
from customers.models import Customer
from integrations.selectors import integration_otp_preset
from tests.conftest import Api
from tests.factories import CouponFactory, CustomerFactory, RewardFactory, make_key

# transaction=True: the services' own transactions are real BEGIN/COMMIT, not test savepoints.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def warm() -> tuple[Api, Customer]:
    customer = CustomerFactory.create(points=10_000)
    api = Api(make_key(customer.company))
    api.get("/api/v2/rewards/")  # caches the key
    api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 1})  # and the webhook subscription
    # and the key's integration OTP preset (none), as the first redemption or use with the key does
    integration_otp_preset(api_key_id=ApiKey.objects.get(company=customer.company).pk)
    return api, customer


def statements(call: Callable[[], Any]) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = call()
    assert response.status_code == 200, response.content
    # BEGIN and COMMIT travel with the first and last statements' round trips in spirit; count the work.
    return [q["sql"] for q in captured.captured_queries if q["sql"] not in {"BEGIN", "COMMIT"}]


def test_validate_is_one_locking_select_one_update_one_insert(warm):
    api, customer = warm
    coupon = CouponFactory.create(customer=customer, reward__total_usages_allowed=5)
    sql = statements(lambda: api.validate(customer.pk, coupon.code))
    assert len(sql) == 3, sql
    assert sql[0].lstrip().startswith("SELECT") and sql[0].endswith("FOR UPDATE OF c")
    quote = connection.ops.quote_name
    assert sql[1].lstrip().startswith(f"UPDATE {quote(Coupon._meta.db_table)} SET")
    assert sql[2].lstrip().startswith(f"INSERT INTO {quote(CouponUse._meta.db_table)}")


def test_redeem_statement_count(warm):
    api, customer = warm
    reward = RewardFactory.create(company=customer.company, points_required=10)
    sql = statements(lambda: api.redeem(customer.pk, reward.pk))
    # lock customer, lock reward, stock update, coupon insert (ON CONFLICT DO NOTHING: a taken code is
    # drawn again, no savepoint), customer update, ledger insert; the per-customer count only when the
    # reward has a limit
    assert len(sql) == 6, sql
    assert "ON CONFLICT" in sql[3] and "SAVEPOINT" not in " ".join(sql)


def test_points_add_statement_count(warm):
    api, customer = warm
    sql = statements(lambda: api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 5}))
    assert len(sql) == 3, sql  # lock, update, ledger insert


@pytest.mark.parametrize("rows", [1, 40])
def test_lists_cost_two_queries_whatever_the_page_holds(warm, rows):
    api, customer = warm
    for _ in range(rows):
        CouponFactory.create(customer=customer)
    assert (
        len(statements(lambda: api.get("/api/v2/rewards/coupons/", customer_id=customer.pk, page_size=50)))
        == 2
    )
    assert len(statements(lambda: api.get("/api/v2/rewards/", customer_id=customer.pk, page_size=50))) == 2
