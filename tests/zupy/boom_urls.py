"""Views that fail on purpose, to prove that no failure escapes as HTML."""

from django.db import OperationalError
from django.urls import include, path
from rest_framework.views import APIView

from zupy.urls import urlpatterns as real_urlpatterns


class DrfBoom(APIView):
    permission_classes = ()
    authentication_classes = ()

    def get(self, request):
        raise RuntimeError("boom")


class DatabaseDown(APIView):
    permission_classes = ()
    authentication_classes = ()

    def get(self, request):
        raise OperationalError("connection refused")


def django_boom(request):
    raise RuntimeError("boom")


urlpatterns = [
    path("boom/drf/", DrfBoom.as_view()),
    path("boom/db/", DatabaseDown.as_view()),
    path("boom/django/", django_boom),
    path("", include(real_urlpatterns)),
]
