"""Step 2 of 2: Z$ columns (already scaled to micro-units by 0002) and points columns become 64-bit
integers, bounded by CHECK constraints (core.money: POINTS_MAX, Z_MICRO_MAX)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0002_z_to_micro_units"),
    ]

    operations = [
        migrations.AlterField(
            model_name="customer",
            name="points_balance",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="customer",
            name="points_earned",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="customer",
            name="points_spent",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="customer",
            name="z_balance",
            field=models.BigIntegerField(default=0, help_text="micro-Z$ (1 Z$ = 1 000 000)"),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="amount",
            field=models.BigIntegerField(),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="balance_after",
            field=models.BigIntegerField(),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="balance_before",
            field=models.BigIntegerField(),
        ),
        migrations.AddConstraint(
            model_name="customer",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("points_balance__lte", 1000000000000000),
                    ("points_earned__lte", 1000000000000000),
                    ("points_spent__lte", 1000000000000000),
                    ("z_balance__lte", 1000000000000000000),
                ),
                name="customer_balances_within_limits",
            ),
        ),
        migrations.AddConstraint(
            model_name="ledgerentry",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("amount__gte", -1000000000000000000),
                    ("amount__lte", 1000000000000000000),
                    models.Q(
                        models.Q(("balance_after__lte", 1000000000000000), ("currency", "points")),
                        models.Q(("balance_after__lte", 1000000000000000000), ("currency", "z")),
                        _connector="OR",
                    ),
                ),
                name="ledger_within_limits",
            ),
        ),
    ]
