"""OpenDelivery operations.

Clients and links (admin, management commands): ``od_client_create``, ``od_merchant_link``,
``od_client_set_enabled``, ``od_link_set_enabled``, ``od_merchant_ensure``."""

from __future__ import annotations

import secrets

from django.db import IntegrityError, transaction
from oauth2_provider.models import AccessToken, Application

from companies.models import Company
from opendelivery.errors import OdBadRequest, OdConflict
from opendelivery.events import od_client_companies, od_subscribers_forget
from opendelivery.models import SCOPES, ClientKind, OdClient, OdMerchant, OdMerchantLink

MERCHANT_ID_MAX = OdMerchantLink._meta.get_field("merchant_id").max_length or 100


# --- Clients and their links --------------------------------------------------------------------------
def od_merchant_ensure(*, company: Company) -> OdMerchant:
    """The company's merchant row (its ``externalCode``), created on first need."""
    merchant, _ = OdMerchant.objects.get_or_create(company=company)
    return merchant


def _clean_scopes(scopes: str) -> str:
    chosen = scopes.split()
    unknown = sorted(set(chosen) - set(SCOPES))
    if not chosen or unknown:
        raise OdBadRequest(
            f"Scopes are a space-separated choice of {', '.join(sorted(SCOPES))}.",
            code="INVALID_SCOPE",
            details=unknown,
        )
    return " ".join(sorted(set(chosen)))


def od_merchant_id_clean(merchant_id: str) -> str:
    """A merchantId as stored: stripped, 1 to 100 printable characters (400 otherwise)."""
    value = merchant_id.strip()
    if not value or len(value) > MERCHANT_ID_MAX or not value.isprintable():
        raise OdBadRequest(
            f"A merchantId is 1 to {MERCHANT_ID_MAX} printable characters.", code="INVALID_MERCHANT_ID"
        )
    return value


def od_client_create(
    *,
    name: str,
    kind: str,
    company: Company | None = None,
    merchant_id: str | None = None,
    scopes: str = "od.crm",
) -> tuple[OdClient, str]:
    """A new client with its OAuth2 application, and the raw secret (stored as a digest only: this is
    its one appearance). A by_merchant client gets its one link here, to its own company, under
    ``merchant_id`` or the company's ``externalCode``; a by_app client starts with no link.

    One transaction: the application, the client and the link exist together or not at all."""
    if kind not in ClientKind.values:
        raise OdBadRequest("kind is by_merchant or by_app.", code="INVALID_KIND")
    if (kind == ClientKind.BY_MERCHANT) != (company is not None):
        raise OdBadRequest("A by_merchant client names its company; a by_app client names none.")
    if kind == ClientKind.BY_APP and merchant_id is not None:
        raise OdBadRequest("A by_app client's merchants link it one by one (od_merchant_link).")
    scopes = _clean_scopes(scopes)
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        application = Application.objects.create(
            name=name[:255],
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
            client_secret=secret,
            hash_client_secret=True,
        )
        client = OdClient.objects.create(
            application=application, name=name[:120], kind=kind, company=company, scopes=scopes
        )
        if company is not None:
            merchant = od_merchant_ensure(company=company)
            _link(client, company, od_merchant_id_clean(merchant_id or str(merchant.external_code)))
    return client, secret


def _link(client: OdClient, company: Company, merchant_id: str) -> OdMerchantLink:
    try:
        with transaction.atomic():
            return OdMerchantLink.objects.create(client=client, company=company, merchant_id=merchant_id)
    except IntegrityError as exc:
        raise OdConflict(
            "This client already links that company, or already uses that merchantId.",
            code="LINK_EXISTS",
        ) from exc


def od_merchant_link(*, client: OdClient, company: Company, merchant_id: str) -> OdMerchantLink:
    """A company links a by_app client under the merchantId the client's application knows it by.
    A by_merchant client has its one link from ``od_client_create``: refused here.

    Locks the client's row, so that two links made at once for one client are checked in turn (the
    unique constraints refuse a repeated company or merchantId either way)."""
    merchant_id = od_merchant_id_clean(merchant_id)
    with transaction.atomic():
        locked = OdClient.objects.select_for_update().get(pk=client.pk)
        if locked.kind != ClientKind.BY_APP:
            raise OdBadRequest("A by_merchant client reaches its own company only.", code="NOT_BY_APP")
        od_merchant_ensure(company=company)
        return _link(locked, company, merchant_id)


def od_client_set_enabled(*, client: OdClient, enabled: bool) -> OdClient:
    """Enable or disable a client. Every request reads the flag, so a disabled client's tokens stop
    at once; its tokens are also revoked (deleted), so enabling it again needs a new token."""
    with transaction.atomic():
        OdClient.objects.filter(pk=client.pk).update(enabled=enabled)
        if not enabled:
            AccessToken.objects.filter(application_id=client.application_id).delete()
        # An UPDATE sends no post_save: the loyalty events' subscribers are forgotten here.
        od_subscribers_forget(*od_client_companies(client))
    client.enabled = enabled
    return client


def od_link_set_enabled(*, link: OdMerchantLink, enabled: bool) -> OdMerchantLink:
    """Enable or disable one merchant's link: every request reads it, so it takes effect at once."""
    with transaction.atomic():
        OdMerchantLink.objects.filter(pk=link.pk).update(enabled=enabled)
        od_subscribers_forget(link.company_id)
    link.enabled = enabled
    return link


def od_client_rotate_secret(*, client: OdClient) -> str:
    """A new secret for the client (the old one stops working; its tokens are revoked): the raw
    secret's one appearance."""
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=client.application_id)
        application.client_secret = secret
        application.hash_client_secret = True
        application.save(update_fields=["client_secret", "hash_client_secret", "updated"])
        AccessToken.objects.filter(application_id=client.application_id).delete()
    return secret
