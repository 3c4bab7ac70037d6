"""The tables stay where they are; only Django's record of which app owns the models moves
(the zupy app's tables zupy_company, zupy_loyaltyprogram and zupy_apikey). State only: not one statement runs on the database."""

from decimal import Decimal

import django.db.models.deletion
from django.db import migrations, models

import companies.models
import core.ids


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("zupy", "0004_apikey_response_format"),
    ]

    state_operations = [
        migrations.CreateModel(
            name="Company",
            fields=[
                (
                    "id",
                    models.CharField(
                        default=core.ids.new_id,
                        editable=False,
                        max_length=27,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("name", models.CharField(max_length=200)),
                (
                    "slug",
                    models.SlugField(
                        blank=True, help_text="Empty: made from the name.", max_length=60, unique=True
                    ),
                ),
                ("trading_name", models.CharField(blank=True, max_length=200)),
                ("email", models.EmailField(blank=True, max_length=254)),
                ("phone", models.CharField(blank=True, max_length=20)),
                ("website", models.URLField(blank=True)),
                ("logo_uuid", models.UUIDField(blank=True, null=True)),
                ("primary_color", models.CharField(blank=True, max_length=20)),
                ("secondary_color", models.CharField(blank=True, max_length=20)),
                (
                    "social_links",
                    models.JSONField(
                        blank=True, default=dict, help_text="Keys: instagram, tiktok, linkedin, x, whatsapp."
                    ),
                ),
                ("instagram_url", models.URLField(blank=True)),
                ("google_review_url", models.URLField(blank=True)),
                ("menu_url", models.URLField(blank=True)),
                ("survey_url", models.URLField(blank=True)),
                ("address", models.CharField(blank=True, max_length=255)),
                ("city", models.CharField(blank=True, max_length=100)),
                ("state", models.CharField(blank=True, max_length=100)),
                ("zip_code", models.CharField(blank=True, max_length=20)),
                ("country", models.CharField(blank=True, default="BR", max_length=100)),
                ("business_type", models.CharField(blank=True, max_length=100)),
                ("description", models.TextField(blank=True)),
                (
                    "currency",
                    models.CharField(default="BRL", help_text="ISO 4217 (BRL, USD, EUR).", max_length=3),
                ),
                ("is_branch", models.BooleanField(default=False)),
                ("branch_name", models.CharField(blank=True, max_length=200)),
                ("is_public", models.BooleanField(default=False)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("active", "Active"),
                            ("locked", "Locked (chargeback/fraud)"),
                            ("suspended", "Suspended"),
                        ],
                        default="active",
                        max_length=16,
                    ),
                ),
                ("is_active", models.BooleanField(default=True)),
                (
                    "rate_tier",
                    models.CharField(
                        choices=[
                            ("free", "Free (60/min)"),
                            ("standard", "Standard (300/min)"),
                            ("enterprise", "Enterprise (3000/min)"),
                        ],
                        default="free",
                        max_length=16,
                    ),
                ),
                ("require_otp_for_enrollment", models.BooleanField(default=True)),
                ("require_otp_for_redemption", models.BooleanField(default=True)),
                ("require_otp_for_coupon_usage", models.BooleanField(default=True)),
                ("trust_partner_validation", models.BooleanField(default=False)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "verbose_name_plural": "companies",
                "db_table": "zupy_company",
                "ordering": ["name"],
            },
        ),
        migrations.CreateModel(
            name="ApiKey",
            fields=[
                (
                    "id",
                    models.CharField(
                        default=core.ids.new_id,
                        editable=False,
                        max_length=27,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("name", models.CharField(blank=True, max_length=100)),
                (
                    "prefix",
                    models.CharField(
                        editable=False, help_text="First characters, to recognise a key.", max_length=16
                    ),
                ),
                ("digest", models.CharField(editable=False, max_length=64, unique=True)),
                ("read_only", models.BooleanField(default=False)),
                (
                    "response_format",
                    models.CharField(
                        choices=[
                            (
                                "envelope",
                                "Envelope: {data, meta} around every success (the guide's, before 2026-07)",
                            ),
                            (
                                "root",
                                "Root: bare objects, exactly as the current upstream document (2026-07 on)",
                            ),
                        ],
                        default="envelope",
                        help_text="The shape of successful answers; errors are problem+json in both.",
                        max_length=8,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("revoked_at", models.DateTimeField(blank=True, null=True)),
                (
                    "company",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="api_keys",
                        to="companies.company",
                    ),
                ),
            ],
            options={
                "verbose_name": "API key",
                "db_table": "zupy_apikey",
                "ordering": ["-created_at"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("response_format__in", ["envelope", "root"])),
                        name="api_key_response_format_known",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="LoyaltyProgram",
            fields=[
                (
                    "id",
                    models.CharField(
                        default=core.ids.new_id,
                        editable=False,
                        max_length=27,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("name", models.CharField(max_length=200)),
                ("slug", models.SlugField(max_length=60, unique=True)),
                ("description", models.TextField(blank=True)),
                (
                    "points_name",
                    models.CharField(default="points", help_text="e.g. Stars, Coins, pontos.", max_length=50),
                ),
                ("point_expiration_days", models.PositiveIntegerField(default=0, help_text="0 means never.")),
                (
                    "points_per_currency",
                    models.DecimalField(
                        decimal_places=2,
                        default=Decimal("1.00"),
                        help_text="Points per currency unit spent.",
                        max_digits=10,
                    ),
                ),
                ("minimum_points_redemption", models.PositiveIntegerField(default=0)),
                ("is_public", models.BooleanField(default=False)),
                ("tiers_enabled", models.BooleanField(default=False)),
                (
                    "tier_definitions",
                    models.JSONField(
                        blank=True,
                        default=companies.models.default_tier_definitions,
                        help_text='Ascending: [{"name": "bronze", "min_points": 0}, {"name": "silver", "min_points": 1000}] — names from bronze, silver, gold, platinum, vip.',
                    ),
                ),
                ("how_it_works", models.TextField(blank=True)),
                (
                    "status",
                    models.CharField(
                        choices=[("draft", "Draft"), ("published", "Published"), ("archived", "Archived")],
                        default="published",
                        max_length=16,
                    ),
                ),
                ("is_active", models.BooleanField(default=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "company",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="loyalty_program",
                        to="companies.company",
                    ),
                ),
            ],
            options={
                "db_table": "zupy_loyaltyprogram",
                "ordering": ["id"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("points_per_currency__gte", 0)),
                        name="program_points_per_currency_gte_0",
                    )
                ],
            },
        ),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=state_operations),
    ]
