"""The tables stay where they are; only Django's record of which app owns the models moves
(the zupy app's table zupy_idempotencyrecord). State only: not one statement runs on the database."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("zupy", "0004_apikey_response_format"),
        ("companies", "0001_initial"),
    ]

    state_operations = [
        migrations.CreateModel(
            name="IdempotencyRecord",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=255)),
                (
                    "fingerprint",
                    models.CharField(help_text="SHA-256 of method, path and body.", max_length=64),
                ),
                ("status_code", models.PositiveSmallIntegerField()),
                ("content_type", models.CharField(max_length=100)),
                ("body", models.BinaryField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("expires_at", models.DateTimeField(db_index=True)),
                (
                    "company",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="companies.company"
                    ),
                ),
            ],
            options={
                "db_table": "zupy_idempotencyrecord",
                "constraints": [
                    models.UniqueConstraint(fields=("company", "key"), name="idempotency_unique_company_key")
                ],
            },
        ),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=state_operations),
    ]
