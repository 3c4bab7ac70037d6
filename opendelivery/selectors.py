"""Reads of the OpenDelivery tables: a token's client, a client's links."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from opendelivery.models import OdClient, OdMerchant, OdMerchantLink


def od_client_of_application(application: Any) -> OdClient | None:
    """The OdClient behind a django-oauth-toolkit application (None for an application without one)."""
    if application is None:
        return None
    try:
        client: OdClient = application.od_client
    except OdClient.DoesNotExist:
        return None
    return client


def od_link_of(client: OdClient, *, merchant_id: str | None = None) -> OdMerchantLink | None:
    """The client's enabled link under ``merchant_id`` (a by_merchant client: its one link)."""
    links = OdMerchantLink.objects.select_related("company").filter(client=client, enabled=True)
    if merchant_id is not None:
        links = links.filter(merchant_id=merchant_id)
    return links.order_by("created_at").first()


def od_links_reachable(client: OdClient, *, merchant_id: str | None = None) -> QuerySet[OdMerchantLink]:
    """The merchants a client reaches (its enabled links), oldest link first."""
    links = OdMerchantLink.objects.select_related("company", "company__od_merchant").filter(
        client=client, enabled=True
    )
    if merchant_id is not None:
        links = links.filter(merchant_id=merchant_id)
    return links.order_by("created_at", "id")


def od_merchant_of(company_id: str) -> OdMerchant | None:
    return OdMerchant.objects.filter(company_id=company_id).first()


def od_client_by_ref(ref: str) -> OdClient | None:
    """A client by its OAuth2 client_id, or by its own id."""
    return (
        OdClient.objects.filter(application__client_id=ref).first() or OdClient.objects.filter(pk=ref).first()
    )
