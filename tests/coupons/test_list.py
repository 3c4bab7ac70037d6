from datetime import timedelta

import pytest
from django.utils import timezone

from coupons.models import Coupon, CouponStatus
from coupons.services import coupon_cancel
from customers.models import Customer
from tests.conftest import assert_problem
from tests.factories import CouponFactory, CustomerFactory, RewardFactory

pytestmark = pytest.mark.django_db

GUIDE_FIELDS = {
    "id",
    "coupon_code",
    "status",
    "remaining_usages",
    "total_usages_allowed",
    "valid_until",
    "reward_name",
}
UPSTREAM_FIELDS = {"reward_id", "customer_id", "customer_name", "points_spent", "created_at", "usage_date",
                   "redemption_date", "status_display"}  # fmt: skip


@pytest.fixture
def wallet(customer: Customer) -> dict[str, Coupon]:
    """One coupon in each state for ``customer``, newest last."""
    now = timezone.now()
    coupons = {
        "active": CouponFactory.create(customer=customer, reward__name="Free Dessert"),
        "used": CouponFactory.create(customer=customer, status=CouponStatus.USED, remaining_usages=0),
        "stored-expired": CouponFactory.create(customer=customer, status=CouponStatus.EXPIRED),
        "lapsed": CouponFactory.create(customer=customer, valid_until=now - timedelta(minutes=1)),
        "cancelled": CouponFactory.create(customer=customer),
    }
    coupon_cancel(coupon_id=coupons["cancelled"].pk)
    return coupons


@pytest.mark.parametrize("path", ["/api/v2/rewards/coupons/", "/api/v2/coupons/issued/"])
def test_both_paths_list_the_customers_coupons_newest_first(api, customer, wallet, path):
    body = api.get(path, customer_id=customer.pk).json()
    assert body["meta"] == {"cursor": None, "has_next": False, "count": None}
    ids = [item["id"] for item in body["data"]]
    assert ids == [c.pk for c in reversed(wallet.values())]
    first_active = body["data"][-1]
    assert set(first_active) >= GUIDE_FIELDS | UPSTREAM_FIELDS
    assert first_active["reward_name"] == "Free Dessert"
    assert first_active["coupon_code"] == wallet["active"].code
    assert first_active["status"] == "active"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("active", ["active"]),
        ("used", ["used"]),
        ("expired", ["lapsed", "stored-expired"]),
        ("cancelled", ["cancelled"]),
    ],
)
def test_status_filter_reads_lapsed_coupons_as_expired(api, customer, wallet, status, expected):
    data = api.get("/api/v2/rewards/coupons/", customer_id=customer.pk, status=status).json()["data"]
    assert [item["id"] for item in data] == [wallet[name].pk for name in expected]
    assert {item["status"] for item in data} == {status}


def test_lapsed_coupon_reads_as_expired_without_a_job(api, customer, wallet):
    data = api.get("/api/v2/coupons/issued/", code=wallet["lapsed"].code.lower()).json()["data"]
    assert [(item["id"], item["status"], item["status_display"]) for item in data] == [
        (wallet["lapsed"].pk, "expired", "Expired")
    ]


def test_guide_path_requires_customer_id(api):
    body = assert_problem(api.get("/api/v2/rewards/coupons/"), 422, "validation-error")
    assert body["errors"][0]["field"] == "customer_id"


def test_issued_filters_by_reward_and_spans_customers(api, company):
    reward = RewardFactory.create(company=company)
    mine = [
        CouponFactory.create(customer=CustomerFactory.create(company=company), reward=reward)
        for _ in range(2)
    ]
    CouponFactory.create(customer=CustomerFactory.create(company=company))
    CouponFactory.create()  # another company's
    data = api.get("/api/v2/coupons/issued/", reward_id=reward.pk).json()["data"]
    assert sorted(item["id"] for item in data) == sorted(c.pk for c in mine)
    assert len(api.get("/api/v2/coupons/issued/").json()["data"]) == 3


@pytest.mark.parametrize("params", [{"status": "pending"}, {"customer_id": "x"}, {"reward_id": "1" * 28}])
def test_bad_filters_are_422(api, params):
    assert_problem(api.get("/api/v2/coupons/issued/", **params), 422, "validation-error")


@pytest.mark.parametrize("path", ["/api/v2/coupons/issued/", "/api/v2/rewards/coupons/"])
def test_an_unknown_status_is_a_422_that_lists_the_valid_ones(api, customer, path):
    response = api.get(path, customer_id=customer.pk, status="validated")  # the validate answer's word
    body = assert_problem(response, 422, "validation-error")
    detail = '"validated" is not one of: active, used, expired, cancelled.'
    assert body["errors"] == [{"field": "status", "detail": detail}]


def test_another_companys_customer_is_404(api):
    stranger = CustomerFactory.create()
    CouponFactory.create(customer=stranger)
    assert_problem(api.get("/api/v2/rewards/coupons/", customer_id=stranger.pk), 404, "not-found")
    assert_problem(api.get("/api/v2/coupons/issued/", customer_id=stranger.pk), 404, "not-found")


def test_cursor_pagination_walks_every_coupon_once(api, customer):
    created = [CouponFactory.create(customer=customer).pk for _ in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"customer_id": customer.pk, "page_size": 3} | ({"cursor": cursor} if cursor else {})
        body = api.get("/api/v2/rewards/coupons/", **params).json()
        seen += [item["id"] for item in body["data"]]
        pages += 1
        if not body["meta"]["has_next"]:
            assert body["meta"]["cursor"] is None
            break
        cursor = body["meta"]["cursor"]
    assert seen == list(reversed(created))
    assert pages == 3


BAD_PAGING = [
    {"page_size": "101"},
    {"page_size": "-1"},
    {"page_size": "ten"},
    {"page_size": str(10**9)},
    {"cursor": "garbage!"},
    {"cursor": "AAAA"},
]


@pytest.mark.parametrize("params", BAD_PAGING)
def test_bad_page_size_or_cursor_is_422(api, customer, params):
    response = api.get("/api/v2/rewards/coupons/", customer_id=customer.pk, **params)
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"][0]["field"] in params


def test_coupon_list_costs_a_constant_number_of_queries(api, customer, django_assert_max_num_queries):
    for _ in range(25):
        CouponFactory.create(customer=customer)
    api.get("/api/v2/coupons/issued/")
    with django_assert_max_num_queries(3):
        response = api.get("/api/v2/rewards/coupons/", customer_id=customer.pk, page_size=25)
    assert len(response.json()["data"]) == 25


def test_stats_count_by_effective_status(api, customer, wallet):
    body = api.get("/api/v2/coupons/issued/stats/").json()
    assert body["data"] == {
        "total_issued": 5,
        "used": 1,
        "usage_rate": 20.0,
        "by_status": {"active": 1, "used": 1, "expired": 2, "cancelled": 1},
        "by_origin": {"loyalty_reward": 5, "marketing": 0},
    }
    filtered = api.get("/api/v2/coupons/issued/stats/", code=wallet["used"].code).json()["data"]
    assert (filtered["total_issued"], filtered["usage_rate"]) == (1, 100.0)


def test_stats_with_no_coupons(api):
    data = api.get("/api/v2/coupons/issued/stats/").json()["data"]
    assert data == {"total_issued": 0, "used": 0, "usage_rate": 0.0,
                    "by_status": {"active": 0, "used": 0, "expired": 0, "cancelled": 0},
                    "by_origin": {"loyalty_reward": 0, "marketing": 0}}  # fmt: skip
