"""The tables stay where they are; only Django's record of which app owns the models moves
(foreign keys now point at companies.Company and companies.ApiKey). State only: not one statement runs on the database."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("companies", "0001_initial"),
        ("coupons", "0005_money_as_64_bit_integers"),
    ]

    state_operations = [
        migrations.AlterField(
            model_name="coupon",
            name="company",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="coupons", to="companies.company"
            ),
        ),
        migrations.AlterField(
            model_name="couponuse",
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
            model_name="couponuse",
            name="company",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to="companies.company"
            ),
        ),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=state_operations),
    ]
