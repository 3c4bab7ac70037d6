"""GET /companies/ and /loyalty/programs/: the key's own company profile and its loyalty program,
read-only (edited in the admin), field for field as the upstream ``CompanyProfile`` and
``LoyaltyProgram``. Unknown text is "" (the document declares those strings non-nullable)."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from companies.auth import partner_of
from companies.models import Company, LoyaltyProgram
from companies.selectors import (
    company_counted,
    company_profile_get,
    company_profiles,
    loyalty_program_get,
    loyalty_programs,
    program_counted,
)
from core.pagination import PageQuery, paginate
from core.rendering import ConstantField, FastOutput
from core.views import ApiView


class CompanyProfileOut(FastOutput):
    id = serializers.CharField()
    name = serializers.CharField()
    trading_name = serializers.CharField()
    slug = serializers.CharField()
    email = serializers.CharField()
    phone = serializers.CharField()
    website = serializers.CharField()
    logo_uuid = serializers.SerializerMethodField()
    primary_color = serializers.CharField()
    secondary_color = serializers.CharField()
    social_links = serializers.JSONField()
    instagram_url = serializers.CharField()
    google_review_url = serializers.CharField()
    menu_url = serializers.CharField()
    survey_url = serializers.CharField()
    address = serializers.CharField()
    city = serializers.CharField()
    state = serializers.CharField()
    zip_code = serializers.CharField()
    country = serializers.CharField()
    business_type = serializers.CharField()
    description = serializers.CharField()
    currency = serializers.CharField()
    is_branch = serializers.BooleanField()
    branch_name = serializers.CharField()
    is_public = serializers.BooleanField()
    status = serializers.CharField()
    is_active = serializers.BooleanField()
    loyalty_programs_count = serializers.IntegerField()
    active_customers_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    # this service keeps no company Z$ wallet (no marketing budget to spend)
    zupy_balance = ConstantField("0.00")
    program_setup_completed = serializers.SerializerMethodField()
    airdrop_claimed_at = ConstantField(None, schema_type=str)  # no airdrop campaign here

    def get_logo_uuid(self, company: Company) -> str | None:
        return str(company.logo_uuid) if company.logo_uuid else None

    def get_program_setup_completed(self, company: Company) -> bool:
        return bool(getattr(company, "loyalty_programs_count", 0))


class CompanyListView(ApiView):
    """GET /api/v2/companies/ — exactly the key's company."""

    reads_from_replica = True

    @extend_schema(
        operation_id="companies_list", parameters=[PageQuery], responses=CompanyProfileOut(many=True)
    )
    def get(self, request: Request) -> Response:
        return paginate(
            request,
            company_profiles(company=partner_of(request).company),
            descending=False,
            serialize=lambda rows: CompanyProfileOut([company_counted(c) for c in rows], many=True).data,
        )


class CompanyDetailView(ApiView):
    reads_from_replica = True

    @extend_schema(operation_id="companies_retrieve", responses=CompanyProfileOut)
    def get(self, request: Request, company_id: str) -> Response:
        company = company_profile_get(company=partner_of(request).company, company_id=company_id)
        return Response(CompanyProfileOut(company).data)


class LoyaltyProgramOut(FastOutput):
    id = serializers.CharField()
    name = serializers.CharField()
    slug = serializers.CharField()
    # enrolment is the partner's (POST /customers/): no public page here
    enrollment_url = ConstantField(None, schema_type=str)
    description = serializers.CharField()
    company_id = serializers.CharField()
    points_name = serializers.CharField()
    point_expiration_days = serializers.IntegerField()
    points_per_currency = serializers.DecimalField(max_digits=10, decimal_places=2)
    minimum_points_redemption = serializers.IntegerField()
    is_public = serializers.BooleanField()
    tiers_enabled = serializers.BooleanField()
    # The document declares a string: the list, JSON-encoded, so a generated SDK decodes it; the same
    # list as JSON is ``tiers``.
    tier_definitions = serializers.CharField(source="tier_definitions_json")
    tiers = serializers.SerializerMethodField()
    welcome_campaign_id = ConstantField(None, schema_type=str)
    how_it_works = serializers.CharField()
    status = serializers.CharField()
    profile_completion_enabled = ConstantField(False)
    profile_completion_points = ConstantField(0)
    email = serializers.CharField(source="company.email")
    logo_url = ConstantField(None, schema_type=str)
    rewards_count = serializers.IntegerField()
    active_customers_count = serializers.IntegerField()
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_tiers(self, program: LoyaltyProgram) -> list[dict[str, Any]]:
        return [{"name": name, "min_points": points} for name, points in program.tiers()]


class LoyaltyProgramListView(ApiView):
    """GET /api/v2/loyalty/programs/ — the key's company's program (one)."""

    reads_from_replica = True

    @extend_schema(
        operation_id="loyalty_programs_list", parameters=[PageQuery], responses=LoyaltyProgramOut(many=True)
    )
    def get(self, request: Request) -> Response:
        return paginate(
            request,
            loyalty_programs(company=partner_of(request).company),
            descending=False,
            serialize=lambda rows: LoyaltyProgramOut([program_counted(p) for p in rows], many=True).data,
        )


class LoyaltyProgramDetailView(ApiView):
    reads_from_replica = True

    @extend_schema(operation_id="loyalty_programs_retrieve", responses=LoyaltyProgramOut)
    def get(self, request: Request, program_id: str) -> Response:
        program = loyalty_program_get(company=partner_of(request).company, program_id=program_id)
        return Response(LoyaltyProgramOut(program).data)
