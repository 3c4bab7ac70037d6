"""OpenDelivery views that fail on purpose, each way a view can, to prove every failure under /v2
answers the standard's shape."""

from typing import Any, NoReturn

from django.db import OperationalError
from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import ValidationFailed
from customers.errors import PointsCapReached
from opendelivery.errors import OdConflict
from opendelivery.views import OdView
from zupy.urls import urlpatterns as real_urlpatterns


class Echo(OdView):
    """A write: its body back, or the failure ``?fail=`` names."""

    def post(self, request: Request) -> Response:
        failure = request.query_params.get("fail")
        if failure == "crash":
            raise RuntimeError("boom")
        if failure == "database":
            raise OperationalError("connection refused")
        if failure == "domain":
            raise PointsCapReached()
        if failure == "invalid":
            raise ValidationFailed(errors=[{"field": "points", "detail": "must be positive"}])
        if failure == "conflict":
            raise OdConflict("Already used for another order.", code="COUPON_ALREADY_USED", details=["o-1"])
        data: Any = request.data
        return Response({"echo": data})


class Crash(OdView):
    def get(self, request: Request) -> NoReturn:
        raise RuntimeError("boom")


urlpatterns = [
    path("v2/test/echo", Echo.as_view()),
    path("v2/test/crash", Crash.as_view()),
    path("", include(real_urlpatterns)),
]
