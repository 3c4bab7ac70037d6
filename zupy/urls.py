from typing import cast

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path, register_converter
from drf_spectacular.views import SpectacularSwaggerView

from companies.api import (
    CompanyDetailView,
    CompanyListView,
    LoyaltyProgramDetailView,
    LoyaltyProgramListView,
)
from core import health, observability, problems
from core.ids import PathIdConverter
from core.schema import SchemaView
from coupons.admin import CouponAdmin
from coupons.api import CouponListView, CouponStatsView, CustomerCouponListView, RedeemView, ValidateView
from coupons.models import Coupon
from coupons.selectors import coupons_taken_count
from customers.api import (
    CustomerDetailView,
    CustomerListView,
    PointsAddView,
    PointsBalanceView,
    PointsHistoryView,
    ZBalanceView,
)
from integrations.api import InboundOrdersView
from opendelivery.discovery import DiscoveryView
from otp.api import RequestOtpView, VerifyOtpView
from rewards.api import RewardDetailView, RewardListView
from wallet.api import (
    CouponPassView,
    LoyaltyPassView,
    NotificationView,
    PassListView,
    PassStatusView,
    WalletDevicesView,
)
from wallet.passkit.api import (
    DesignImageView,
    LatestPassView,
    LogView,
    PassDownloadView,
    RegistrationView,
    SerialsView,
)
from wallet.passkit.converters import DeviceConverter, ImageNameConverter, PassTypeConverter, TokenConverter
from webhooks.api import WebhookConfigView, WebhookTestView

# Every id in a path (KSUIDs, coupon codes) passes this converter or the URL does not resolve: a NUL
# byte, a slash, a 5000-character "id" never reaches a view or the database (404 from the resolver).
register_converter(PathIdConverter, "id")
register_converter(TokenConverter, "wallet_token")
register_converter(DeviceConverter, "wallet_device")
register_converter(PassTypeConverter, "pass_type")
register_converter(ImageNameConverter, "wallet_image")

api_v2 = [
    # The catalog counts a customer's coupons by the coupons app's rule (rewards/ cannot import it).
    path("rewards/", RewardListView.as_view(coupons_taken_count=coupons_taken_count), name="reward-list"),
    # Before rewards/<id>/, which would otherwise take "coupons" for an id.
    path("rewards/coupons/", CustomerCouponListView.as_view(), name="customer-coupon-list"),
    path(
        "rewards/<id:reward_id>/",
        RewardDetailView.as_view(coupons_taken_count=coupons_taken_count),
        name="reward-detail",
    ),
    path("coupons/issued/", CouponListView.as_view(), name="coupon-list"),
    path("coupons/issued/stats/", CouponStatsView.as_view(), name="coupon-stats"),
    path(
        "customers/<id:customer_id>/rewards/<id:reward_id>/redeem/",
        RedeemView.as_view(),
        name="reward-redeem",
    ),
    path(
        "customers/<id:customer_id>/coupons/<id:coupon_ref>/validate/",
        ValidateView.as_view(),
        name="coupon-validate",
    ),
    path("auth/request-otp/", RequestOtpView.as_view(), name="auth-request-otp"),
    path("auth/verify-otp/", VerifyOtpView.as_view(), name="auth-verify-otp"),
    path("customers/", CustomerListView.as_view(), name="customer-list"),
    path("customers/<id:customer_id>/", CustomerDetailView.as_view(), name="customer-detail"),
    path("customers/<id:customer_id>/points/", PointsBalanceView.as_view(), name="customer-points"),
    path("customers/<id:customer_id>/points/add/", PointsAddView.as_view(), name="customer-points-add"),
    path(
        "customers/<id:customer_id>/points/history/",
        PointsHistoryView.as_view(),
        name="customer-points-history",
    ),
    path("customers/<id:customer_id>/z-balance/", ZBalanceView.as_view(), name="customer-z-balance"),
    path("integrations/webhooks/", WebhookConfigView.as_view(), name="webhook-config"),
    path("integrations/webhooks/test/", WebhookTestView.as_view(), name="webhook-test"),
    path(
        "customers/<id:customer_id>/wallet-devices/",
        WalletDevicesView.as_view(),
        name="customer-wallet-devices",
    ),
    path("wallet/passes/", PassListView.as_view(), name="wallet-pass-list"),
    path("wallet/passes/loyalty/", LoyaltyPassView.as_view(), name="wallet-pass-loyalty"),
    path("wallet/passes/coupons/", CouponPassView.as_view(), name="wallet-pass-coupon"),
    path("wallet/passes/<id:pass_id>/status/", PassStatusView.as_view(), name="wallet-pass-status"),
    path("wallet/notifications/", NotificationView.as_view(), name="wallet-notification"),
    path(
        "webhooks/integrations/<slug:partner>/",
        InboundOrdersView.as_view(),
        name="webhooks_integration_receive",
    ),
    path("companies/", CompanyListView.as_view(), name="company-list"),
    path("companies/<id:company_id>/", CompanyDetailView.as_view(), name="company-detail"),
    path("loyalty/programs/", LoyaltyProgramListView.as_view(), name="loyalty-program-list"),
    path(
        "loyalty/programs/<id:program_id>/", LoyaltyProgramDetailView.as_view(), name="loyalty-program-detail"
    ),
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

# Apple's Wallet web service, at the passes' webServiceURL (<base>/passkit/): Wallet appends
# "/v1/...", so a doubled slash is taken too.
passkit_v1 = [
    path(
        "devices/<wallet_device:device>/registrations/<pass_type:pass_type_id>/<uuid:serial>",
        RegistrationView.as_view(),
        name="passkit-registration",
    ),
    path(
        "devices/<wallet_device:device>/registrations/<pass_type:pass_type_id>",
        SerialsView.as_view(),
        name="passkit-serials",
    ),
    path("passes/<pass_type:pass_type_id>/<uuid:serial>", LatestPassView.as_view(), name="passkit-pass"),
    path("log", LogView.as_view(), name="passkit-log"),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/v2/", include(api_v2)),
    # OpenDelivery 2.0 (docs/opendelivery.md): the standard's paths under /v2, and its manifest.
    path("v2/", include("opendelivery.urls")),
    path(".well-known/opendelivery", DiscoveryView.as_view(), name="od-discovery"),
    re_path(r"^passkit/+v1/", include(passkit_v1)),
    path(
        "wallet/apple/<wallet_token:download_token>.pkpass",
        PassDownloadView.as_view(),
        name="wallet-apple-pass",
    ),
    path(
        "wallet/images/<wallet_token:image_token>/<wallet_image:name>",
        DesignImageView.as_view(),
        name="wallet-design-image",
    ),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", observability.metrics, name="metrics"),
    path(
        "admin/coupons/coupon/import-legacy/",
        admin.site.admin_view(cast(CouponAdmin, admin.site.get_model_admin(Coupon)).import_legacy_view),
        name="coupons_coupon_import_legacy",
    ),
    path("admin/", admin.site.urls),
]

handler400 = problems.bad_request
handler403 = problems.permission_denied
handler404 = problems.not_found
handler500 = problems.server_error
