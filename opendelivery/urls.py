"""The OpenDelivery surface's paths, included by zupy/urls.py at ``v2/``: the standard's paths
exactly, each also with a trailing slash (``od_route``). Each area keeps its lines in its block."""

from collections.abc import Callable

from django.http import HttpResponseBase
from django.urls import URLPattern, path

from opendelivery.api_merchants import MerchantListView
from opendelivery.api_orders import CustomerEventsView
from opendelivery.api_redemptions import CouponUseView, RedemptionView
from opendelivery.api_token import TokenView
from opendelivery.reads import (
    AccountDetailView,
    CouponListView,
    CustomerAccountListView,
    CustomerListView,
    ProgramDetailView,
    ProgramListView,
    RewardListView,
    TransactionListView,
)


def od_route(route: str, view: Callable[..., HttpResponseBase], name: str) -> list[URLPattern]:
    """``route`` as the standard writes it, and with a trailing slash (tolerated, never redirected)."""
    return [path(route, view, name=name), path(route + "/", view, name=f"{name}-slash")]


urlpatterns: list[URLPattern] = [
    # --- Credentials and merchants ----------------------------------------------------------------
    *od_route("oauth/token", TokenView.as_view(), "od-token"),
    *od_route("merchants", MerchantListView.as_view(), "od-merchant-list"),
    # --- Reads: customers, programs, accounts, transactions, rewards, coupons ---------------------
    *od_route("customers", CustomerListView.as_view(), "od-customer-list"),
    *od_route(
        "customers/<id:customer_id>/loyalty-accounts",
        CustomerAccountListView.as_view(),
        "od-customer-accounts",
    ),
    *od_route("loyalty/programs", ProgramListView.as_view(), "od-program-list"),
    *od_route("loyalty/programs/<id:program_id>", ProgramDetailView.as_view(), "od-program-detail"),
    *od_route("loyalty/accounts/<id:account_id>", AccountDetailView.as_view(), "od-account-detail"),
    *od_route(
        "loyalty/accounts/<id:account_id>/transactions", TransactionListView.as_view(), "od-transaction-list"
    ),
    *od_route("loyalty/rewards", RewardListView.as_view(), "od-reward-list"),
    *od_route("loyalty/coupons", CouponListView.as_view(), "od-coupon-list"),
    # --- Redemptions and coupon use ---------------------------------------------------------------
    *od_route("loyalty/redemptions", RedemptionView.as_view(), "od-redemption-create"),
    *od_route("loyalty/coupons/<id:coupon_ref>/use", CouponUseView.as_view(), "od-coupon-use"),
    # --- Orders and accrual -----------------------------------------------------------------------
    *od_route("customer-events", CustomerEventsView.as_view(), "od-customer-events"),
]
