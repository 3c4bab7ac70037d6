"""The tables stay where they are; only Django's record of which app owns the models moves
(foreign keys now point at companies.Company and companies.ApiKey). State only: not one statement runs on the database."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("companies", "0001_initial"),
        ("customers", "0004_card_tier_segment"),
    ]

    state_operations = [
        migrations.AlterField(
            model_name="customer",
            name="company",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="customers", to="companies.company"
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="api_key",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="companies.apikey",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="company",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to="companies.company"
            ),
        ),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=state_operations),
    ]
