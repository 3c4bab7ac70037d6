"""Views that fail on purpose, to prove that no failure escapes as HTML."""

from typing import NoReturn

from django.db import OperationalError
from django.http import HttpRequest
from django.urls import include, path
from rest_framework.request import Request
from rest_framework.views import APIView

from zupy.urls import urlpatterns as real_urlpatterns


class DrfBoom(APIView):
    permission_classes = ()
    authentication_classes = ()

    def get(self, request: Request) -> NoReturn:
        raise RuntimeError("boom")


class DatabaseDown(APIView):
    permission_classes = ()
    authentication_classes = ()

    def get(self, request: Request) -> NoReturn:
        raise OperationalError("connection refused")


def django_boom(request: HttpRequest) -> NoReturn:
    raise RuntimeError("boom")


urlpatterns = [
    path("boom/drf/", DrfBoom.as_view()),
    path("boom/db/", DatabaseDown.as_view()),
    path("boom/django/", django_boom),
    path("", include(real_urlpatterns)),
]
