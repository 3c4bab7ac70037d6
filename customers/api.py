from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from companies.auth import partner_of
from core.inputs import AnyCaseChoiceField, AsciiIntegerField, Input, json_object
from core.money import POINTS_PER_ADD_MAX, z_format
from core.pagination import PageQuery, paginate
from core.rendering import ConstantField, FastOutput, TextOut
from core.views import IDEMPOTENCY_KEY, OTP_SESSION, ApiView, WriteView
from customers.identifiers import normalise_cpf, normalise_email, normalise_phone, phone_for_lookup
from customers.models import Currency, Customer, EntryKind, LedgerEntry, Segment, Tier
from customers.selectors import customer_get, customer_list, points_history
from customers.services import customer_enrol, points_add


class NormalisedField(serializers.CharField):
    """A string kept in its normal form (``customers.identifiers``); a ValueError there is a 422."""

    def __init__(self, normalise: Callable[[str], str], **kwargs: Any) -> None:
        self.normalise = normalise
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        try:
            return self.normalise(super().to_internal_value(data))
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc


class CustomerOut(FastOutput):
    id = serializers.CharField()
    full_name = serializers.CharField()
    # The upstream document declares these strings non-nullable: "" when unknown.
    avatar_url = ConstantField("")
    email = TextOut()
    is_email_verified = ConstantField(False)
    phone = TextOut()
    is_phone_verified = ConstantField(False)
    cpf = TextOut()
    birth_date = ConstantField("")
    points_balance = serializers.IntegerField()
    points_earned = serializers.IntegerField()
    points_spent = serializers.IntegerField()
    tier = serializers.CharField()
    card_number = serializers.CharField()
    join_date = serializers.DateTimeField(source="created_at")
    last_activity_date = serializers.DateTimeField(allow_null=True)
    is_active = serializers.BooleanField()
    zupy_balance = serializers.SerializerMethodField()
    # Loaded with the key's company (or select_related by the list): no query per customer.
    program_id = serializers.CharField(source="company.loyalty_program.id")
    program_name = serializers.CharField(source="company.loyalty_program.name")
    rfm_segment = serializers.CharField(source="segment")
    company_id = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_zupy_balance(self, customer: Customer) -> str:
        return z_format(customer.z_balance)


class CustomerQuery(Input):
    phone = NormalisedField(phone_for_lookup, required=False)
    email = NormalisedField(normalise_email, required=False)
    name = serializers.CharField(required=False, max_length=200)
    search = serializers.CharField(required=False, max_length=200)
    card_code = serializers.CharField(
        required=False, max_length=20, help_text="Card number, any case, any part."
    )
    tier = AnyCaseChoiceField(choices=Tier.choices, required=False)
    segment = AnyCaseChoiceField(
        choices=Segment.choices, required=False, help_text="RFM segment (docs/loyalty.md)."
    )


class EnrolIn(Input):
    phone = NormalisedField(normalise_phone, required=False, allow_null=True)
    email = NormalisedField(normalise_email, required=False, allow_null=True)
    cpf = NormalisedField(normalise_cpf, required=False, allow_null=True)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    full_name = serializers.CharField(required=False, allow_blank=True, max_length=200)


class EnrolOut(CustomerOut):
    created = serializers.BooleanField()
    matched_on = serializers.CharField(allow_null=True)

    def to_representation(self, enrolment: Any) -> dict[str, Any]:
        data = CustomerOut(enrolment.customer).data
        return {**data, "created": enrolment.created, "matched_on": enrolment.matched_on}


class CustomerListView(WriteView):
    """GET /api/v2/customers/ (filters) and POST /api/v2/customers/ (enrol, or find the match)."""

    @extend_schema(
        operation_id="customers_list", parameters=[CustomerQuery, PageQuery], responses=CustomerOut(many=True)
    )
    def get(self, request: Request) -> Response:
        query = CustomerQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        customers = customer_list(company=partner_of(request).company, **query.validated_data)
        return paginate(
            request, customers, descending=True, serialize=lambda rows: CustomerOut(rows, many=True).data
        )

    @extend_schema(
        operation_id="customers_enrol",
        request=EnrolIn,
        responses={200: EnrolOut, 201: EnrolOut},
        parameters=[IDEMPOTENCY_KEY, OTP_SESSION],
    )
    def post(self, request: Request) -> Response:
        body = EnrolIn(data=json_object(request))
        body.is_valid(raise_exception=True)
        data = body.validated_data
        enrolment = customer_enrol(
            company=partner_of(request).company,
            otp_session=request.headers.get("X-OTP-Session"),
            full_name=data.get("name") or data.get("full_name") or "",
            phone=data.get("phone"),
            email=data.get("email"),
            cpf=data.get("cpf"),
        )
        return Response(
            EnrolOut(enrolment).data,
            status=status.HTTP_201_CREATED if enrolment.created else status.HTTP_200_OK,
        )


class CustomerDetailView(ApiView):
    @extend_schema(operation_id="customers_retrieve", responses=CustomerOut)
    def get(self, request: Request, customer_id: str) -> Response:
        return Response(
            CustomerOut(customer_get(company=partner_of(request).company, customer_id=customer_id)).data
        )


class PointsBalanceOut(FastOutput):
    customer_id = serializers.CharField(source="id")
    points_balance = serializers.IntegerField()
    points_earned = serializers.IntegerField()
    points_spent = serializers.IntegerField()
    points_name = serializers.SerializerMethodField()
    last_activity_date = serializers.DateTimeField(allow_null=True)
    tier = serializers.CharField()

    def get_points_name(self, customer: Customer) -> str:
        return customer.company.loyalty_program.points_name


class PointsBalanceView(ApiView):
    @extend_schema(operation_id="customers_points_retrieve", responses=PointsBalanceOut)
    def get(self, request: Request, customer_id: str) -> Response:
        customer = customer_get(company=partner_of(request).company, customer_id=customer_id)
        return Response(PointsBalanceOut(customer).data)


class PointsAddIn(Input):
    amount = AsciiIntegerField(min_value=1, max_value=POINTS_PER_ADD_MAX)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")


class PointsOperationOut(FastOutput):
    customer_id = serializers.CharField()
    operation = ConstantField("add")
    amount = serializers.IntegerField()
    balance_before = serializers.IntegerField()
    balance_after = serializers.IntegerField()
    activity_id = serializers.CharField(source="id")
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class PointsAddView(WriteView):
    @extend_schema(
        operation_id="customers_points_add",
        request=PointsAddIn,
        responses=PointsOperationOut,
        parameters=[IDEMPOTENCY_KEY],
    )
    def post(self, request: Request, customer_id: str) -> Response:
        body = PointsAddIn(data=json_object(request))
        body.is_valid(raise_exception=True)
        entry = points_add(
            company=partner_of(request).company,
            customer_id=customer_id,
            amount=body.validated_data["amount"],
            reason=body.validated_data["reason"],
            api_key=partner_of(request).api_key,
        )
        return Response(PointsOperationOut(entry).data)


ACTIVITY_TYPES = {
    EntryKind.EARN: ("change_points", "Points earned"),
    EntryKind.REDEEM: ("redeem_reward_code", "Reward redeemed"),
    EntryKind.REFUND: ("rollback", "Coupon cancelled: points returned"),
    EntryKind.ADJUST: ("change_points", "Manual adjustment"),
}


Z_BONUS_ACTIVITY = ("earn_zupys", "Z$ bonus earned")


class PointsHistoryOut(FastOutput):
    """A points row, or a Z$ bonus row (``earn_zupys``): no points moved there, so its points
    balances are null and ``z_amount`` says what was credited; a points row's ``z_amount`` is null."""

    id = serializers.CharField()
    activity_type = serializers.SerializerMethodField()
    activity_type_display = serializers.SerializerMethodField()
    points_amount = serializers.SerializerMethodField()
    description = serializers.CharField(source="reason")
    balance_before = serializers.SerializerMethodField()
    balance_after = serializers.SerializerMethodField()
    z_amount = serializers.SerializerMethodField()
    coupon_id = serializers.CharField(allow_null=True)
    activity_date = serializers.DateTimeField(source="created_at")
    created_at = serializers.DateTimeField()

    def _activity(self, entry: LedgerEntry) -> tuple[str, str]:
        if entry.currency == Currency.Z:
            return Z_BONUS_ACTIVITY
        return ACTIVITY_TYPES[EntryKind(entry.kind)]

    def get_activity_type(self, entry: LedgerEntry) -> str:
        return self._activity(entry)[0]

    def get_activity_type_display(self, entry: LedgerEntry) -> str:
        return self._activity(entry)[1]

    def get_points_amount(self, entry: LedgerEntry) -> int:
        return 0 if entry.currency == Currency.Z else entry.amount

    def get_balance_before(self, entry: LedgerEntry) -> int | None:
        return None if entry.currency == Currency.Z else entry.balance_before

    def get_balance_after(self, entry: LedgerEntry) -> int | None:
        return None if entry.currency == Currency.Z else entry.balance_after

    def get_z_amount(self, entry: LedgerEntry) -> str | None:
        return z_format(entry.amount) if entry.currency == Currency.Z else None


class PointsHistoryView(ApiView):
    """GET /api/v2/customers/{id}/points/history/ — newest first, one row per change of points."""

    reads_from_replica = True

    @extend_schema(
        operation_id="customers_points_history", parameters=[PageQuery], responses=PointsHistoryOut(many=True)
    )
    def get(self, request: Request, customer_id: str) -> Response:
        customer = customer_get(company=partner_of(request).company, customer_id=customer_id)
        return paginate(
            request,
            points_history(customer=customer),
            descending=True,
            serialize=lambda rows: PointsHistoryOut(rows, many=True).data,
            root_shape="results",
        )


class ZBalanceOut(FastOutput):
    z_balance = serializers.SerializerMethodField()
    wallet_address = ConstantField(None, schema_type=str)
    has_wallet = ConstantField(False)

    def get_z_balance(self, customer: Customer) -> str | None:
        return z_format(customer.z_balance)


class ZBalanceView(ApiView):
    @extend_schema(operation_id="customers_z_balance", responses=ZBalanceOut)
    def get(self, request: Request, customer_id: str) -> Response:
        return Response(
            ZBalanceOut(customer_get(company=partner_of(request).company, customer_id=customer_id)).data
        )
