"""The rate tiers' labels come from ZUPY_RATE_LIMITS (companies.models.rate_tier_choices) instead of
restating the default limits. Choices are Python-side only: not one statement runs on the database."""

from django.db import migrations, models

import companies.models


class Migration(migrations.Migration):
    dependencies = [
        ("companies", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="company",
            name="rate_tier",
            field=models.CharField(choices=companies.models.rate_tier_choices, default="free", max_length=16),
        ),
    ]
