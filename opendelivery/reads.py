"""The Customer capability's read operations (``customer.openapi.yaml``): each view parses the
operation's parameters, calls one selector of ``opendelivery.selectors`` and renders through
``opendelivery.serializers``, for the one merchant the request targets.

A parameter the operation declares is either honoured or refused with a 400 that says why; none is
ignored. Beyond the declared ones, ``listLoyaltyCoupons`` takes ``status`` (the coupon statuses the
schema names). An id of another company is a 404 where the operation declares one, and an empty
list where it filters a list."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.inputs import AnyCaseChoiceField, Input
from customers.identifiers import MAX_EMAIL_LENGTH, normalise_cpf, normalise_email, phone_for_lookup
from opendelivery.auth import OdCaller, od_caller
from opendelivery.selectors import (
    od_account_get,
    od_accounts,
    od_coupons,
    od_customers,
    od_program,
    od_program_get,
    od_programs,
    od_rewards,
    od_transactions,
)
from opendelivery.serializers import (
    COUPON_STATUS_FILTERS,
    AccountOut,
    CouponOut,
    CustomerOut,
    ProgramOut,
    RewardOut,
    TransactionOut,
    rendered,
)
from opendelivery.views import OdView, od_page, od_page_body

# customerIdentifierType -> (Customer field, the normaliser /api/v2's lookups use).
IDENTIFIER_TYPES = {
    "phone": ("phone", phone_for_lookup),
    "email": ("email", normalise_email),
    "document": ("cpf", normalise_cpf),
}


def od_context(caller: OdCaller) -> dict[str, Any]:
    """What the mapping reads besides the rows (``opendelivery.serializers``)."""
    return {
        "merchant_id": caller.link.merchant_id,
        "program": od_program(company=caller.company),
        "now": timezone.now(),
        "currency": caller.company.currency,
    }


class MerchantQuery(Input):
    """``merchantId``, which the standard lets a by_app caller filter by: here a request targets
    one merchant (``X-App-MerchantId`` or ``storeId``), so it may only repeat that one."""

    merchantId = serializers.CharField(required=False, max_length=100)

    def validate_merchantId(self, value: str) -> str:
        if value != self.context["caller"].link.merchant_id:
            raise serializers.ValidationError(
                "Names another merchant than the one this request targets: a request reaches one "
                "merchant, selected by X-App-MerchantId or storeId."
            )
        return value


def parsed(query_class: type[Input], request: Request) -> dict[str, Any]:
    """The operation's valid query parameters (a 400 naming each one that is not)."""
    query = query_class(data=request.query_params, context={"caller": od_caller(request)})
    query.is_valid(raise_exception=True)
    data = dict(query.validated_data)
    data.pop("merchantId", None)
    return data


class DateTimeField(serializers.DateTimeField):
    """An ISO 8601 date-time, as the standard's ``format: date-time`` parameters are written."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, input_formats=["iso-8601"], **kwargs)


def window_checked(attrs: dict[str, Any], start: str, end: str) -> dict[str, Any]:
    if start in attrs and end in attrs and attrs[start] > attrs[end]:
        raise serializers.ValidationError({start: f"Is later than {end}."})
    return attrs


class CustomersQuery(MerchantQuery):
    customerIdentifierType = serializers.CharField(required=False, max_length=40)
    customerIdentifierValue = serializers.CharField(required=False, max_length=MAX_EMAIL_LENGTH)
    externalId = serializers.CharField(required=False)
    updatedFrom = DateTimeField()
    updatedTo = DateTimeField()

    def validate_customerIdentifierType(self, value: str) -> str:
        kind = value.strip().lower()
        if kind not in IDENTIFIER_TYPES:
            raise serializers.ValidationError(
                f'"{value[:40]}" is not an identifier this server looks customers up by: '
                f"use {', '.join(IDENTIFIER_TYPES)}."
            )
        return kind

    def validate_externalId(self, value: str) -> str:
        raise serializers.ValidationError(
            "This server keeps no external identifiers: look customers up by customerIdentifierType "
            "and customerIdentifierValue."
        )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind, value = attrs.pop("customerIdentifierType", None), attrs.pop("customerIdentifierValue", None)
        if (kind is None) != (value is None):
            missing = "customerIdentifierValue" if value is None else "customerIdentifierType"
            raise serializers.ValidationError(
                {missing: "Required with the other customerIdentifier parameter."}
            )
        if kind is not None:
            field, normalise = IDENTIFIER_TYPES[kind]
            try:
                attrs[field] = normalise(value)
            except ValueError as exc:
                raise serializers.ValidationError({"customerIdentifierValue": str(exc)}) from exc
        attrs = window_checked(attrs, "updatedFrom", "updatedTo")
        renamed = {"updatedFrom": "updated_from", "updatedTo": "updated_to"}
        return {renamed.get(name, name): item for name, item in attrs.items()}


class ProgramFilterQuery(MerchantQuery):
    programId = serializers.CharField(required=False, max_length=100)


class TransactionsQuery(MerchantQuery):
    createdFrom = DateTimeField()
    createdTo = DateTimeField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = window_checked(attrs, "createdFrom", "createdTo")
        return {"created_from": attrs.get("createdFrom"), "created_to": attrs.get("createdTo")}


class CouponsQuery(ProgramFilterQuery):
    customerId = serializers.CharField(required=False, max_length=100)
    status = AnyCaseChoiceField(choices=sorted(COUPON_STATUS_FILTERS), required=False)


class CustomerListView(OdView):
    """``GET /customers``: the merchant's customers, found by one identifier in its normal form
    (``customers.identifiers``, as /api/v2 looks them up); nobody found is an empty page."""

    operations = {"get": "listCustomers"}

    def get(self, request: Request) -> Response:
        caller = od_caller(request)
        customers = od_customers(company=caller.company, **parsed(CustomersQuery, request))
        items, page, size, total = od_page(request, customers)
        return Response(od_page_body(rendered(CustomerOut, items, od_context(caller)), page, size, total))


class ProgramListView(OdView):
    operations = {"get": "listLoyaltyPrograms"}

    def get(self, request: Request) -> Response:
        caller = od_caller(request)
        parsed(MerchantQuery, request)
        items, page, size, total = od_page(request, od_programs(company=caller.company))
        return Response(od_page_body(rendered(ProgramOut, items, od_context(caller)), page, size, total))


class ProgramDetailView(OdView):
    operations = {"get": "getLoyaltyProgramById"}

    def get(self, request: Request, program_id: str) -> Response:
        caller = od_caller(request)
        program = od_program_get(company=caller.company, program_id=program_id)
        return Response(ProgramOut(program, context=od_context(caller)).data)


class CustomerAccountListView(OdView):
    """``GET /customers/{customerId}/loyalty-accounts``: the customer's one account (none when
    ``programId`` names another program); another company's customer is 404."""

    operations = {"get": "listCustomerLoyaltyAccounts"}

    def get(self, request: Request, customer_id: str) -> Response:
        caller = od_caller(request)
        query = parsed(ProgramFilterQuery, request)
        accounts = od_accounts(
            company=caller.company, customer_id=customer_id, program_id=query.get("programId")
        )
        return Response({"items": rendered(AccountOut, accounts, od_context(caller))})


class AccountDetailView(OdView):
    operations = {"get": "getLoyaltyAccountById"}

    def get(self, request: Request, account_id: str) -> Response:
        caller = od_caller(request)
        account = od_account_get(company=caller.company, account_id=account_id)
        return Response(AccountOut(account, context=od_context(caller)).data)


class TransactionListView(OdView):
    """``GET /loyalty/accounts/{accountId}/transactions``: the account's ledger, newest first."""

    operations = {"get": "listLoyaltyTransactions"}

    def get(self, request: Request, account_id: str) -> Response:
        caller = od_caller(request)
        query = parsed(TransactionsQuery, request)
        account = od_account_get(company=caller.company, account_id=account_id)
        items, page, size, total = od_page(request, od_transactions(customer=account, **query))
        return Response(od_page_body(rendered(TransactionOut, items), page, size, total))


class RewardListView(OdView):
    """``GET /loyalty/rewards``: what may be redeemed now."""

    operations = {"get": "listLoyaltyRewards"}

    def get(self, request: Request) -> Response:
        caller = od_caller(request)
        query = parsed(ProgramFilterQuery, request)
        rewards = od_rewards(company=caller.company, now=timezone.now(), program_id=query.get("programId"))
        items, page, size, total = od_page(request, rewards)
        return Response(od_page_body(rendered(RewardOut, items, od_context(caller)), page, size, total))


class CouponListView(OdView):
    """``GET /loyalty/coupons``: the merchant's coupons, newest first, by customer and status."""

    operations = {"get": "listLoyaltyCoupons"}

    def get(self, request: Request) -> Response:
        caller = od_caller(request)
        query = parsed(CouponsQuery, request)
        context = od_context(caller)
        coupons = od_coupons(
            company=caller.company,
            now=context["now"],
            program_id=query.get("programId"),
            customer_id=query.get("customerId"),
            status=query.get("status"),
        )
        items, page, size, total = od_page(request, coupons)
        return Response(od_page_body(rendered(CouponOut, items, context), page, size, total))
