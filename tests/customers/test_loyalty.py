"""Card numbers, the tier rule and its event, RFM segments and the customer list's filters."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from companies.services import loyalty_program_save
from coupons.services import coupon_cancel
from customers.models import Customer, Segment, segment_for
from customers.services import customer_adjust_balance, customer_segments_refresh
from tests.conftest import Api, assert_problem
from tests.factories import CompanyFactory, CustomerFactory, RewardFactory, make_key
from webhooks.models import EVENTS, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def subscribe(company):
    WebhookEndpoint.objects.create(
        company=company, url="https://hooks.example.com/in", secret="s", events=list(EVENTS)
    )


def tier_events():
    return [d.payload["data"] for d in WebhookDelivery.objects.filter(event="customer.tier_changed")]


def tiers_on(company, tiers=None):
    program = company.loyalty_program
    program.tiers_enabled = True
    if tiers is not None:
        program.tier_definitions = tiers
    loyalty_program_save(program=program)
    return program


# --- card numbers ---------------------------------------------------------------------------------


def test_enrolment_gives_a_card_number_unique_per_company(api, company):
    data = api.post("/api/v2/customers/", {"phone": "+5511987650000"}).json()["data"]
    assert data["card_number"].startswith("ZP-") and len(data["card_number"]) == 13
    other = CustomerFactory.create(company=CompanyFactory.create())
    CustomerFactory.create(company=other.company, card_number=data["card_number"])  # another company: fine
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerFactory.create(company=company, card_number=data["card_number"])


# --- the tier rule and customer.tier_changed ---------------------------------------------------------


def test_lifetime_points_move_the_tier_and_each_move_is_an_event(api, company):
    subscribe(company)
    tiers_on(company, [{"name": "bronze", "min_points": 100}, {"name": "gold", "min_points": 500}])
    customer = CustomerFactory.create(company=company)
    add = lambda n: api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": n})  # noqa: E731
    add(99)
    assert api.get(f"/api/v2/customers/{customer.pk}/").json()["data"]["tier"] == "default"
    add(1)
    add(450)
    add(50)
    customer.refresh_from_db()
    assert (customer.points_earned, customer.tier) == (600, "gold")
    events = tier_events()
    assert {(e["old_tier"], e["new_tier"]) for e in events} == {("default", "bronze"), ("bronze", "gold")}
    for event in events:
        assert set(event) == {"customer_id", "old_tier", "new_tier", "changed_at"}
        assert event["customer_id"] == customer.pk and event["changed_at"].endswith("Z")


def test_spending_and_refunds_never_move_the_tier(api, company):
    subscribe(company)
    tiers_on(company, [{"name": "silver", "min_points": 100}])
    customer = CustomerFactory.create(company=company, points=300)  # an adjustment: silver already
    assert customer.tier == "silver"
    reward = RewardFactory.create(company=company, points_required=250)
    coupon_id = api.redeem(customer.pk, reward.pk).json()["data"]["coupon_id"]
    coupon_cancel(coupon_id=coupon_id)
    customer.refresh_from_db()
    assert customer.tier == "silver"
    assert len(tier_events()) == 1  # the adjustment's, nothing since


def test_an_admin_adjustment_moves_the_tier_too(company):
    subscribe(company)
    tiers_on(company, [{"name": "vip", "min_points": 1000}])
    customer = CustomerFactory.create(company=company)
    customer_adjust_balance(customer_id=customer.pk, points=1000, reason="migration from the old card")
    customer.refresh_from_db()
    assert customer.tier == "vip"
    assert [e["new_tier"] for e in tier_events()] == ["vip"]


def test_without_tiers_everyone_is_default_and_nothing_is_emitted(api, company):
    subscribe(company)
    customer = CustomerFactory.create(company=company, points=100_000)
    api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 5})
    customer.refresh_from_db()
    assert customer.tier == "default" and tier_events() == []


def test_a_rolled_back_points_add_emits_no_tier_event(api, company):
    subscribe(company)
    tiers_on(company, [{"name": "bronze", "min_points": 1}])
    customer = CustomerFactory.create(company=company, points=999_999_999)  # at the cap: the add is refused
    WebhookDelivery.objects.all().delete()
    response = api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 5})
    assert response.status_code == 422
    assert tier_events() == []


# --- RFM segments -----------------------------------------------------------------------------------

NOW = timezone.now()


@pytest.mark.parametrize(
    ("joined_days", "active_days", "visits", "points", "segment"),
    [
        (5, None, 0, 0, "new"),
        (90, 61, 20, 9000, "at_risk"),
        (90, None, 0, 0, "at_risk"),  # enrolled long ago, never came
        (90, 10, 10, 1000, "champions"),
        (90, 40, 10, 1000, "loyal"),  # not recent enough for a champion
        (90, 10, 9, 5000, "loyal"),
        (10, 1, 2, 50, "new"),
        (90, 10, 2, 50, "promising"),
    ],
)
def test_segment_rule(joined_days, active_days, visits, points, segment):
    active = None if active_days is None else NOW - timedelta(days=active_days)
    found = segment_for(
        joined=NOW - timedelta(days=joined_days),
        last_activity=active,
        visits=visits,
        points_earned=points,
        now=NOW,
    )
    assert found == segment


def test_points_add_keeps_the_segment_current(api, company):
    customer = CustomerFactory.create(company=company)
    Customer.objects.filter(pk=customer.pk).update(
        created_at=NOW - timedelta(days=90), segment=Segment.AT_RISK
    )
    for _ in range(5):
        api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 10})
    customer.refresh_from_db()
    assert (customer.visit_count, customer.segment) == (5, "loyal")
    assert api.get(f"/api/v2/customers/{customer.pk}/").json()["data"]["rfm_segment"] == "loyal"


@pytest.mark.django_db(transaction=True)  # the command manages its own connections
def test_refresh_segments_moves_customers_as_time_passes(company):
    quiet = CustomerFactory.create(company=company)
    fresh = CustomerFactory.create(company=company)
    Customer.objects.filter(pk=quiet.pk).update(created_at=NOW - timedelta(days=100))
    out = StringIO()
    call_command("refresh_segments", stdout=out)
    assert out.getvalue().strip() == "refresh_segments: 1 customer(s) changed segment"
    quiet.refresh_from_db()
    fresh.refresh_from_db()
    assert (quiet.segment, fresh.segment) == ("at_risk", "new")
    assert customer_segments_refresh() == 0  # idempotent


def test_refresh_never_overwrites_a_row_changed_since_it_was_read(company):
    customer = CustomerFactory.create(company=company)
    Customer.objects.filter(pk=customer.pk).update(created_at=NOW - timedelta(days=100))
    stale = Customer.objects.get(pk=customer.pk)
    Customer.objects.filter(pk=customer.pk).update(updated_at=NOW + timedelta(seconds=1))  # a points add
    changed = Customer.objects.filter(pk=stale.pk, updated_at=stale.updated_at).update(segment="at_risk")
    assert changed == 0  # the conditional UPDATE customer_segments_refresh uses


# --- the list's filters ----------------------------------------------------------------------------


@pytest.fixture
def crowd(company):
    tiers_on(company, [{"name": "gold", "min_points": 500}])
    gold = CustomerFactory.create(company=company, points=600)
    plain = CustomerFactory.create(company=company)
    Customer.objects.filter(pk=plain.pk).update(segment=Segment.AT_RISK)
    return gold, plain


def ids(response):
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["data"]]


def test_filter_by_tier_and_segment_any_case(api, crowd):
    gold, plain = crowd
    assert ids(api.get("/api/v2/customers/", tier="GOLD")) == [gold.pk]
    assert ids(api.get("/api/v2/customers/", tier="default")) == [plain.pk]
    assert ids(api.get("/api/v2/customers/", segment="At_Risk")) == [plain.pk]
    assert ids(api.get("/api/v2/customers/", segment="new", tier="gold")) == [gold.pk]


def test_filter_by_card_code_matches_any_part_any_case(api, crowd):
    gold, _ = crowd
    assert ids(api.get("/api/v2/customers/", card_code=gold.card_number.lower())) == [gold.pk]
    assert ids(api.get("/api/v2/customers/", card_code=gold.card_number[3:9])) == [gold.pk]
    assert gold.pk in ids(api.get("/api/v2/customers/", search=gold.card_number))  # search: phones too


@pytest.mark.parametrize(("name", "value"), [("tier", "diamond"), ("segment", "sleepy")])
def test_an_unknown_tier_or_segment_is_refused(api, name, value):
    assert_problem(api.get("/api/v2/customers/", **{name: value}), 422, "validation-error")


def test_another_company_never_shows(crowd):
    gold, _ = crowd
    other = Api(make_key(CompanyFactory.create()))
    assert ids(other.get("/api/v2/customers/", card_code=gold.card_number)) == []
