"""Reads of the OpenDelivery surface.

The surface's own tables: a token's client, a client's links and merchants.

The Customer capability's reads: the apps' own selectors (customers, catalog, coupons, programs),
narrowed to what each operation of the standard returns. No rule is restated here: what "available"
means for a reward or a coupon, how identifiers are normalised and matched, stay in their apps; this
module picks and orders rows and loads what the mapping (``opendelivery.serializers``) reads, so a
page costs a bounded number of statements whatever it holds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from companies.models import Company, LoyaltyProgram
from companies.selectors import loyalty_program_get, loyalty_programs
from coupons.models import Coupon
from coupons.selectors import coupon_list
from customers.models import Currency, Customer, LedgerEntry
from customers.selectors import customer_get, customer_list, points_history
from opendelivery.models import OdClient, OdMerchant, OdMerchantLink
from opendelivery.serializers import COUPON_STATUS_FILTERS
from rewards.models import Reward
from rewards.selectors import available_q, reward_catalog


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


# --- The Customer capability's reads ------------------------------------------------------------


def od_program(*, company: Company) -> LoyaltyProgram:
    """The company's one program, which every account, reward and coupon of it belongs to."""
    return company.loyalty_program


def od_programs(*, company: Company) -> QuerySet[LoyaltyProgram]:
    return loyalty_programs(company=company).order_by("id")


def od_program_get(*, company: Company, program_id: str) -> LoyaltyProgram:
    """The company's program by id; any other id (another company's too) is 404."""
    return loyalty_program_get(company=company, program_id=program_id)


def od_customers(
    *,
    company: Company,
    phone: str | None = None,
    email: str | None = None,
    cpf: str | None = None,
    updated_from: datetime | None = None,
    updated_to: datetime | None = None,
) -> QuerySet[Customer]:
    """The company's customers, oldest first; identifiers already in their normal form
    (``customers.identifiers``), compared exactly as ``customer_list`` compares them."""
    customers = customer_list(company=company, phone=phone, email=email, cpf=cpf)
    if updated_from is not None:
        customers = customers.filter(updated_at__gte=updated_from)
    if updated_to is not None:
        customers = customers.filter(updated_at__lte=updated_to)
    return customers.order_by("id")


def od_accounts(*, company: Company, customer_id: str, program_id: str | None = None) -> list[Customer]:
    """``listCustomerLoyaltyAccounts``: the customer's one account, or none when ``program_id``
    names another program than the company's. Another company's customer is 404."""
    customer = customer_get(company=company, customer_id=customer_id)
    return [customer] if _in_program(company, program_id) else []


def _in_program(company: Company, program_id: str | None) -> bool:
    """Whether a ``programId`` filter keeps the company's rows: absent, or its one program's id."""
    return program_id is None or program_id == od_program(company=company).pk


def od_account_get(*, company: Company, account_id: str) -> Customer:
    """The loyalty account ``account_id`` names: the customer's own (one account per customer, in
    the company's one program). Another company's is 404, as one that does not exist."""
    return customer_get(company=company, customer_id=account_id)


def od_transactions(
    *,
    customer: Customer,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> QuerySet[LedgerEntry]:
    """The account's movements of points, newest first: the ledger's points rows. The Z$ bonus rows
    of ``points_history`` move another balance than the account's, so they are left out."""
    entries = points_history(customer=customer).filter(currency=Currency.POINTS)
    if created_from is not None:
        entries = entries.filter(created_at__gte=created_from)
    if created_to is not None:
        entries = entries.filter(created_at__lte=created_to)
    return entries.order_by("-id")


def od_rewards(*, company: Company, now: datetime, program_id: str | None = None) -> QuerySet[Reward]:
    """The catalog a customer may redeem from now (``rewards.selectors.available_q``), oldest first."""
    rewards = reward_catalog(company=company, now=now).filter(available_q(now)).order_by("id")
    return rewards if _in_program(company, program_id) else rewards.none()


def od_coupons(
    *,
    company: Company,
    now: datetime,
    program_id: str | None = None,
    customer_id: str | None = None,
    status: str | None = None,
) -> QuerySet[Coupon]:
    """The company's coupons, newest first, optionally one customer's, optionally in one status of
    the standard's (``COUPON_STATUS_FILTERS``: ours as ``coupons.selectors.status_q`` reads it;
    ``applied`` is none). With the reward's fields the mapping shows, in the same statement."""
    ours = COUPON_STATUS_FILTERS[status] if status is not None else None
    coupons = coupon_list(company=company, now=now, customer_id=customer_id, status=ours)
    if not _in_program(company, program_id) or (status is not None and ours is None):
        coupons = coupons.none()
    return coupons.only(
        "id",
        "code",
        "status",
        "origin_type",
        "remaining_usages",
        "total_usages_allowed",
        "points_spent",
        "valid_until",
        "usage_date",
        "cancelled_at",
        "created_at",
        "customer_id",
        "reward_id",
        "reward__name",
        "reward__reward_type",
        "reward__discount_type",
        "reward__monetary_value",
        "reward__discount_percentage",
        "reward__discount_fixed_amount",
        "reward__maximum_discount_value",
    ).order_by("-id")
