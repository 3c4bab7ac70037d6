"""The tables stay where they are; only Django's record of which app owns the models moves
(foreign keys now point at companies.Company and companies.ApiKey). State only: not one statement runs on the database."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("companies", "0001_initial"),
        ("otp", "0001_initial"),
    ]

    state_operations = [
        migrations.AlterField(
            model_name="otpchallenge",
            name="company",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="companies.company"
            ),
        ),
        migrations.AlterField(
            model_name="otpsession",
            name="company",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="companies.company"
            ),
        ),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=state_operations),
    ]
