"""The OpenDelivery surface's paths, included by zupy/urls.py at ``v2/``: the standard's paths
exactly, each also with a trailing slash (``od_route``). Each area keeps its lines in its block."""

from collections.abc import Callable

from django.http import HttpResponseBase
from django.urls import URLPattern, path

from opendelivery.api_merchants import MerchantListView
from opendelivery.api_token import TokenView


def od_route(route: str, view: Callable[..., HttpResponseBase], name: str) -> list[URLPattern]:
    """``route`` as the standard writes it, and with a trailing slash (tolerated, never redirected)."""
    return [path(route, view, name=name), path(route + "/", view, name=f"{name}-slash")]


urlpatterns: list[URLPattern] = [
    # --- Credentials and merchants ----------------------------------------------------------------
    *od_route("oauth/token", TokenView.as_view(), "od-token"),
    *od_route("merchants", MerchantListView.as_view(), "od-merchant-list"),
]
