"""Z$ become integer micro-units (1 Z$ = 1 000 000), step 1 of 2: widen the decimal columns so that
they can hold the scaled values, then multiply every Z$ value by 10^6 in place. Points ledger rows
are whole numbers already and keep their value. Step 2 (0003) turns the columns into 64-bit integers.

ROUND makes the values integral on SQLite too, which stored these decimals as floating point
(1105.6 * 10^6 = 1105600000.0000002 there); the integer column then takes them without loss."""

from decimal import Decimal

from django.db import migrations, models

Z_COLUMNS = ("amount", "balance_before", "balance_after")

TO_MICRO = [
    "UPDATE customers_customer SET z_balance = ROUND(z_balance * 1000000)",
    "UPDATE customers_ledgerentry SET amount = ROUND(amount * 1000000), "
    "balance_before = ROUND(balance_before * 1000000), balance_after = ROUND(balance_after * 1000000) "
    "WHERE currency = 'z'",
]
FROM_MICRO = [
    "UPDATE customers_customer SET z_balance = z_balance / 1000000.0",
    "UPDATE customers_ledgerentry SET amount = amount / 1000000.0, "
    "balance_before = balance_before / 1000000.0, balance_after = balance_after / 1000000.0 "
    "WHERE currency = 'z'",
]


def wide() -> models.DecimalField:
    return models.DecimalField(decimal_places=6, max_digits=27)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="customer",
            name="z_balance",
            field=models.DecimalField(decimal_places=6, default=Decimal("0"), max_digits=27),
        ),
        *(migrations.AlterField(model_name="ledgerentry", name=c, field=wide()) for c in Z_COLUMNS),
        migrations.RunSQL(TO_MICRO, reverse_sql=FROM_MICRO),
    ]
