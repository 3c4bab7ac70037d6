"""Run by test_move_migration.py in a process of its own, on the database DATABASE_URL names (empty):
migrate to the last migrations before Company, LoyaltyProgram, ApiKey and IdempotencyRecord left the
``zupy`` app, write rows through the models as they were then, migrate to the head, and check every row
and foreign key through today's models. Prints ``OK`` and exits 0, or raises."""

import os
from datetime import timedelta

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zupy.settings")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import IntegrityError, connection, transaction  # noqa: E402
from django.db.migrations.executor import MigrationExecutor  # noqa: E402
from django.utils import timezone  # noqa: E402

BEFORE = [
    ("zupy", "0004_apikey_response_format"),
    ("customers", "0004_card_tier_segment"),
    ("rewards", "0003_redemption_limit_generated"),
    ("coupons", "0005_money_as_64_bit_integers"),
    ("otp", "0001_initial"),
    ("webhooks", "0004_delivery_exhausted"),
    ("contenttypes", "0002_remove_content_type_name"),
]

for app, name in BEFORE:
    call_command("migrate", app, name, verbosity=0)
old = MigrationExecutor(connection).loader.project_state(BEFORE).apps
ContentType = old.get_model("contenttypes", "ContentType")
for model in ("company", "loyaltyprogram", "apikey", "idempotencyrecord"):
    ContentType.objects.create(app_label="zupy", model=model)

now = timezone.now()
company = old.get_model("zupy", "Company").objects.create(id="2" * 27, name="Old Café", slug="old-cafe")
program = old.get_model("zupy", "LoyaltyProgram").objects.create(
    id="3" * 27, company=company, name="Old Café club", slug="old-cafe-club", points_name="Stars"
)
key = old.get_model("zupy", "ApiKey").objects.create(
    id="4" * 27, company=company, prefix="zupy_pk_ab", digest="d" * 64
)
old.get_model("zupy", "IdempotencyRecord").objects.create(
    company=company,
    key="k1",
    fingerprint="f" * 64,
    status_code=200,
    content_type="application/json",
    body=b"{}",
    expires_at=now + timedelta(hours=1),
)
customer = old.get_model("customers", "Customer").objects.create(
    id="5" * 27, company=company, full_name="Ana", phone="+5511987654321", points_balance=10, points_earned=10
)
old.get_model("customers", "LedgerEntry").objects.create(
    company=company,
    customer=customer,
    currency="points",
    kind="earn",
    amount=10,
    balance_before=0,
    balance_after=10,
    api_key=key,
)
reward = old.get_model("rewards", "Reward").objects.create(
    id="6" * 27, company=company, name="Coffee", points_required=10
)
coupon = old.get_model("coupons", "Coupon").objects.create(
    id="7" * 27,
    company=company,
    customer=customer,
    reward=reward,
    code="CZ-ABCDEFGH",
    total_usages_allowed=1,
    remaining_usages=1,
    valid_until=now + timedelta(days=30),
)
old.get_model("webhooks", "WebhookEndpoint").objects.create(
    company=company, url="https://example.invalid/h", secret="s" * 64
)

call_command("migrate", verbosity=0)

from django.contrib.contenttypes.models import ContentType as NewContentType  # noqa: E402

from companies.models import ApiKey, Company, LoyaltyProgram  # noqa: E402
from core.models import IdempotencyRecord  # noqa: E402
from coupons.models import Coupon  # noqa: E402
from customers.models import Customer, LedgerEntry  # noqa: E402
from webhooks.models import WebhookEndpoint  # noqa: E402

moved = Company.objects.get(pk=company.pk)
assert moved.name == "Old Café" and moved.slug == "old-cafe"
assert LoyaltyProgram.objects.get(pk=program.pk).company == moved
assert ApiKey.objects.get(pk=key.pk).company == moved
assert IdempotencyRecord.objects.get(key="k1").company == moved
assert Customer.objects.get(pk=customer.pk).company == moved
entry = LedgerEntry.objects.get(customer_id=customer.pk)
assert entry.company == moved and entry.api_key_id == key.pk
assert Coupon.objects.get(pk=coupon.pk).company == moved
assert WebhookEndpoint.objects.get(company=moved).url == "https://example.invalid/h"
labels = {
    (ct.app_label, ct.model)
    for ct in NewContentType.objects.filter(
        model__in=["company", "apikey", "loyaltyprogram", "idempotencyrecord"]
    )
}
assert labels == {
    ("companies", "company"),
    ("companies", "apikey"),
    ("companies", "loyaltyprogram"),
    ("core", "idempotencyrecord"),
}, labels

# The foreign keys are still enforced by the database, now pointing from the apps to the same tables.
for bad in (
    lambda: Customer.objects.create(company_id="9" * 27, full_name="Nobody", phone="+5511900000000"),
    lambda: IdempotencyRecord.objects.create(
        company_id="9" * 27,
        key="k2",
        fingerprint="f",
        status_code=200,
        content_type="x",
        body=b"",
        expires_at=now,
    ),
):
    try:
        with transaction.atomic():
            bad()
            if connection.vendor == "sqlite":
                connection.check_constraints()
    except IntegrityError:
        pass
    else:
        raise AssertionError("a row with a missing company was accepted")
print("OK")
