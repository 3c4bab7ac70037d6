"""The partner API's six wallet operations, as a partner calls them: issue the card and a coupon's
pass, list them, a pass's status, where the customer installed them, and notifications into them.
The platforms are fakes behind the WalletPlatform interface (tests/wallet/fake_platforms.py)."""

import logging
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from coupons.models import CouponStatus
from coupons.services import coupon_validate
from tests.conftest import Api, assert_problem, run_together
from tests.factories import CompanyFactory, CouponFactory, CustomerFactory, make_key
from tests.wallet.fake_platforms import FakePlatform, install_fake_platforms
from wallet.google.platform import GOOGLE
from wallet.models import (
    AppleDevice,
    AppleRegistration,
    JobKind,
    PassKind,
    WalletJob,
    WalletNotification,
    WalletPass,
)
from wallet.services import _pass_insert, company_has_passes

pytestmark = pytest.mark.django_db

LOYALTY = "/api/v2/wallet/passes/loyalty/"
COUPONS = "/api/v2/wallet/passes/coupons/"
PASSES = "/api/v2/wallet/passes/"
NOTIFY = "/api/v2/wallet/notifications/"
UNKNOWN = "2" + "0" * 26


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> dict[str, FakePlatform]:
    return install_fake_platforms(monkeypatch)


@pytest.fixture(params=["envelope", "root"])
def fmt(request: Any) -> str:
    return str(request.param)


@pytest.fixture
def partner(company: Any, fmt: str) -> Api:
    return Api(make_key(company, response_format=fmt))


def body_of(response: Any, fmt: str) -> Any:
    """The answer's object: unwrapped from {data, meta} for an envelope key, bare for a root key."""
    body = response.json()
    if fmt == "envelope":
        assert set(body) == {"data", "meta"}, body
        return body["data"]
    assert "data" not in body, body
    return body


def issue(api: Api, customer_id: str, platform: str = "apple", coupon_id: str | None = None) -> Any:
    if coupon_id is None:
        return api.post(LOYALTY, {"customer_id": customer_id, "platform": platform})
    return api.post(COUPONS, {"customer_id": customer_id, "coupon_id": coupon_id, "platform": platform})


def register(wallet_pass: WalletPass, device_id: str, *, hint: str = "ios") -> AppleRegistration:
    now = timezone.now()
    device, _ = AppleDevice.objects.get_or_create(
        device_library_identifier=device_id,
        defaults={"push_token": "ab" * 32, "last_registered_at": now},
    )
    return AppleRegistration.objects.create(
        device=device,
        wallet_pass=wallet_pass,
        registered_at=now,
        platform_hint=hint,
        os_version="17.4",
        locale="pt-BR",
    )


# --- Issuing: the loyalty card ---------------------------------------------------------------------
def test_the_card_is_issued_201_then_answered_again_200_in_both_formats(partner, fmt, customer, fakes):
    first = issue(partner, customer.pk)
    assert first.status_code == 201, first.content
    card = body_of(first, fmt)
    wallet_pass = WalletPass.objects.get()
    assert card["id"] == wallet_pass.pk
    assert card["platform"] == "apple" and card["pass_type"] == "loyalty" and card["created"] is True
    assert card["pass_url"] == f"http://testserver/wallet/apple/{wallet_pass.download_token}"
    assert card["created_at"].endswith("Z")
    assert (wallet_pass.kind, wallet_pass.customer_id, wallet_pass.coupon_id) == (
        PassKind.LOYALTY,
        customer.pk,
        None,
    )

    again = issue(partner, customer.pk)
    assert again.status_code == 200, again.content
    assert body_of(again, fmt) == {**card, "created": False}
    assert WalletPass.objects.count() == 1
    assert fakes["apple"].issued == [wallet_pass.pk]  # the platform's issue ran once


def test_each_platform_has_its_own_card(api, customer, fakes):
    apple, google = issue(api, customer.pk, "apple"), issue(api, customer.pk, "GOOGLE")
    assert (apple.status_code, google.status_code) == (201, 201)
    assert apple.json()["data"]["id"] != google.json()["data"]["id"]
    assert google.json()["data"]["platform"] == "google"
    assert sorted(WalletPass.objects.values_list("platform", flat=True)) == ["apple", "google"]


def test_the_public_url_setting_makes_the_links(api, customer, fakes, settings):
    settings.WALLET_PUBLIC_URL = "https://passes.example.com"
    body = issue(api, customer.pk).json()["data"]
    assert body["pass_url"].startswith("https://passes.example.com/wallet/apple/")


def test_the_first_pass_forgets_the_cached_no_on_commit(
    api, customer, fakes, django_capture_on_commit_callbacks
):
    assert company_has_passes(customer.company_id) is False
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert issue(api, customer.pk).status_code == 201
    assert callbacks
    assert company_has_passes(customer.company_id) is True


def test_the_loser_of_a_race_at_the_unique_constraint_answers_the_winner(customer):
    winner, created = _pass_insert(customer=customer, coupon=None, platform_name="apple")
    assert created
    again, created = _pass_insert(customer=customer, coupon=None, platform_name="apple")
    assert (again.pk, created) == (winner.pk, False)
    assert WalletPass.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_parallel_posts_give_one_pass(monkeypatch):
    fakes = install_fake_platforms(monkeypatch)
    fakes["apple"].issue_pause = 0.2  # the first holds its uncommitted row while the second inserts
    customer = CustomerFactory.create(company=CompanyFactory.create())
    key = make_key(customer.company)
    results = run_together(2, lambda: issue(Api(key), customer.pk))
    assert sorted(r.status_code for r in results) == [200, 201], results
    assert len({r.json()["data"]["id"] for r in results}) == 1
    assert WalletPass.objects.count() == 1
    assert len(fakes["apple"].issued) == 1


# --- Issuing: a coupon -----------------------------------------------------------------------------
def test_a_coupon_pass_is_issued_201_then_200_with_its_title_and_expiry(partner, fmt, customer, fakes):
    coupon = CouponFactory.create(customer=customer, reward__name="Vale Sobremesa")
    first = issue(partner, customer.pk, "google", coupon.pk)
    assert first.status_code == 201, first.content
    body = body_of(first, fmt)
    assert body["coupon_title"] == "Vale Sobremesa" and body["coupon_id"] == coupon.pk
    assert body["expiry_date"] == coupon.valid_until.isoformat().replace("+00:00", "Z")
    assert body["pass_type"] == "coupon" and body["platform"] == "google"
    assert body["pass_url"].startswith("http://testserver/wallet/google/")
    again = issue(partner, customer.pk, "google", coupon.pk)
    assert again.status_code == 200
    assert body_of(again, fmt)["id"] == body["id"]
    # The code as a till types it names the same coupon.
    by_code = issue(partner, customer.pk, "google", coupon.code.lower())
    assert (by_code.status_code, body_of(by_code, fmt)["id"]) == (200, body["id"])
    assert WalletPass.objects.get().coupon_id == coupon.pk


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"status": CouponStatus.USED, "remaining_usages": 0}, "used"),
        ({"status": CouponStatus.CANCELLED}, "cancelled"),
        ({"valid_until": timezone.now() - timedelta(minutes=1)}, "expired, not yet stored so"),
        ({"status": CouponStatus.EXPIRED}, "expired"),
    ],
)
def test_a_coupon_the_customer_cannot_use_gets_no_pass_409(api, customer, fakes, changes, why):
    coupon = CouponFactory.create(customer=customer, **changes)
    assert_problem(issue(api, customer.pk, "apple", coupon.pk), 409, "conflict", "coupon_not_active")
    assert WalletPass.objects.count() == 0


def test_a_coupon_already_in_a_pass_that_is_then_used_is_409_too(api, customer, fakes):
    coupon = CouponFactory.create(customer=customer)
    assert issue(api, customer.pk, "apple", coupon.pk).status_code == 201
    coupon_validate(company=customer.company, customer_id=customer.pk, coupon_ref=coupon.pk, api_key=None)
    assert_problem(issue(api, customer.pk, "apple", coupon.pk), 409, "conflict", "coupon_not_active")


def test_a_coupon_used_while_its_pass_is_issued_moves_the_pass_once_it_commits(
    api, customer, fakes, monkeypatch, django_capture_on_commit_callbacks
):
    """The till's validation committed between our check and our commit: its event found no pass,
    so the pass is touched after ours commits, and the Google object gets its update."""
    coupon = CouponFactory.create(customer=customer)
    issue_first = fakes["google"].issue

    def issue_while_the_till_validates(*, wallet_pass: WalletPass, base_url: str) -> None:
        issue_first(wallet_pass=wallet_pass, base_url=base_url)
        type(coupon).objects.filter(pk=coupon.pk).update(status=CouponStatus.USED, remaining_usages=0)

    monkeypatch.setattr(GOOGLE, "issue", issue_while_the_till_validates)
    with django_capture_on_commit_callbacks(execute=True):
        body = issue(api, customer.pk, "google", coupon.pk).json()["data"]
    wallet_pass = WalletPass.objects.get(pk=body["id"])
    assert wallet_pass.changed_at > wallet_pass.created_at
    assert list(WalletJob.objects.values_list("kind", "wallet_pass_id")) == [
        (JobKind.GOOGLE_SYNC, wallet_pass.pk)
    ]


def test_a_coupon_still_active_after_its_pass_commits_queues_nothing(
    api, customer, fakes, django_capture_on_commit_callbacks
):
    coupon = CouponFactory.create(customer=customer)
    with django_capture_on_commit_callbacks(execute=True):
        assert issue(api, customer.pk, "google", coupon.pk).status_code == 201
    assert WalletJob.objects.count() == 0


# --- Issuing: refusals -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "body", "fields"),
    [
        (LOYALTY, {}, {"customer_id", "platform"}),
        (LOYALTY, {"customer_id": "", "platform": ""}, {"customer_id", "platform"}),
        (LOYALTY, {"customer_id": "nope", "platform": "apple"}, {"customer_id"}),
        (LOYALTY, {"customer_id": UNKNOWN, "platform": "samsung"}, {"platform"}),
        (LOYALTY, {"customer_id": 12, "platform": ["apple"]}, {"customer_id", "platform"}),
        (COUPONS, {"customer_id": UNKNOWN, "platform": "apple"}, {"coupon_id"}),
        (COUPONS, {"customer_id": UNKNOWN, "platform": "apple", "coupon_id": "x" * 28}, {"coupon_id"}),
    ],
)
def test_invalid_bodies_are_422_naming_the_fields(api, fakes, path, body, fields):
    problem = assert_problem(api.post(path, body), 422, "validation-error")
    assert {e["field"] for e in problem["errors"]} == fields


def test_an_unknown_platform_is_refused_with_the_ones_that_exist(api, customer, fakes):
    problem = assert_problem(issue(api, customer.pk, "samsung"), 422, "validation-error")
    assert problem["errors"] == [{"field": "platform", "detail": '"samsung" is not one of: apple, google.'}]


def test_a_body_that_is_not_an_object_or_not_json_is_refused(api, fakes):
    assert_problem(api.post(LOYALTY, ["apple"]), 422, "validation-error")
    malformed = api.client.post(LOYALTY, '{"customer_id": ', content_type="application/json")
    assert_problem(malformed, 400, "validation-error", "malformed_body")


def test_a_read_only_key_may_not_issue_or_notify_403(company, customer, fakes):
    read_only = Api(make_key(company, read_only=True))
    coupon = CouponFactory.create(customer=customer)
    assert_problem(issue(read_only, customer.pk), 403, "permission-denied")
    assert_problem(issue(read_only, customer.pk, "apple", coupon.pk), 403, "permission-denied")
    assert_problem(
        read_only.post(NOTIFY, {"customer_id": customer.pk, "type": "points_update", "message": "hi"}),
        403,
        "permission-denied",
    )
    assert WalletPass.objects.count() == WalletNotification.objects.count() == 0


def test_another_companys_customer_or_coupon_is_404(api, customer, fakes):
    stranger = CustomerFactory.create()
    their_coupon = CouponFactory.create(customer=stranger)
    assert_problem(issue(api, stranger.pk), 404, "not-found")
    assert_problem(issue(api, UNKNOWN), 404, "not-found")
    assert_problem(issue(api, customer.pk, "apple", their_coupon.pk), 404, "not-found")
    assert_problem(issue(api, stranger.pk, "apple", their_coupon.pk), 404, "not-found")
    assert_problem(issue(api, customer.pk, "apple", UNKNOWN), 404, "not-found")
    assert WalletPass.objects.count() == 0


def test_a_coupon_of_another_customer_of_the_same_company_is_404(api, customer, fakes):
    sibling = CustomerFactory.create(company=customer.company)
    coupon = CouponFactory.create(customer=sibling)
    assert_problem(issue(api, customer.pk, "apple", coupon.pk), 404, "not-found")


def test_a_platform_not_configured_is_503_with_retry_after_and_nothing_written(api, customer, fakes):
    fakes["google"].is_configured = False
    coupon = CouponFactory.create(customer=customer)
    for response in (issue(api, customer.pk, "google"), issue(api, customer.pk, "google", coupon.pk)):
        problem = assert_problem(
            response, 503, "wallet-temporarily-unavailable", "wallet_temporarily_unavailable"
        )
        assert response["Retry-After"] == "30"
        assert "Google Wallet is not configured" in problem["detail"]
    assert WalletPass.objects.count() == 0
    assert issue(api, customer.pk, "apple").status_code == 201  # the other platform is unaffected


def test_a_platform_that_fails_during_issue_rolls_the_pass_back(api, customer, fakes):
    fakes["google"].down = True
    response = issue(api, customer.pk, "google")
    assert_problem(response, 503, "wallet-temporarily-unavailable", "wallet_temporarily_unavailable")
    assert WalletPass.objects.count() == 0
    fakes["google"].down = False
    assert issue(api, customer.pk, "google").status_code == 201  # the retry issues it


def test_idempotency_key_replays_the_first_answer(api, customer, fakes):
    headers = {"HTTP_IDEMPOTENCY_KEY": "wallet-card-1"}
    first = api.post(LOYALTY, {"customer_id": customer.pk, "platform": "apple"}, **headers)
    replay = api.post(LOYALTY, {"customer_id": customer.pk, "platform": "apple"}, **headers)
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay["Idempotent-Replayed"] == "true" and replay.content == first.content


# --- Listing and status ----------------------------------------------------------------------------
def test_the_list_shows_the_customers_passes_newest_first_with_their_status(partner, fmt, customer, fakes):
    coupon = CouponFactory.create(customer=customer, reward__name="Café")
    card = body_of(issue(partner, customer.pk), fmt)
    coupon_pass = body_of(issue(partner, customer.pk, "google", coupon.pk), fmt)
    other = CustomerFactory.create(company=customer.company)
    issue(partner, other.pk)
    coupon_validate(company=customer.company, customer_id=customer.pk, coupon_ref=coupon.pk, api_key=None)

    response = partner.get(PASSES, customer_id=customer.pk)
    assert response.status_code == 200
    body = response.json()
    if fmt == "root":
        assert (body["count"], body["next"], body["previous"]) == (2, None, None)
        rows = body["results"]
    else:
        assert body["meta"] == {"cursor": None, "has_next": False, "count": None}
        rows = body["data"]
    assert [(r["id"], r["pass_type"], r["platform"], r["status"]) for r in rows] == [
        (coupon_pass["id"], "coupon", "google", "voided"),
        (card["id"], "loyalty", "apple", "active"),
    ]
    assert rows[0]["title"] == "Café"
    assert rows[1]["title"] == customer.company.loyalty_program.name


def test_the_list_pages_in_the_documents_shape_for_a_root_key(company, customer, fakes):
    root = Api(make_key(company, response_format="root"))
    for platform in ("apple", "google"):
        issue(root, customer.pk, platform)
    page = root.get(PASSES, customer_id=customer.pk, page_size=1).json()
    assert page["count"] == 2 and len(page["results"]) == 1 and page["next"].startswith("http://testserver/")
    following = root.client.get(page["next"]).json()
    assert following["next"] is None and following["results"][0]["id"] != page["results"][0]["id"]


def test_the_list_needs_a_customer_of_this_company(api, fakes):
    assert_problem(api.get(PASSES), 422, "validation-error")
    assert_problem(api.get(PASSES, customer_id=""), 422, "validation-error")
    assert_problem(api.get(PASSES, customer_id="x"), 422, "validation-error")
    assert_problem(api.get(PASSES, customer_id=UNKNOWN), 404, "not-found")
    assert_problem(api.get(PASSES, customer_id=CustomerFactory.create().pk), 404, "not-found")


def test_status_of_an_apple_pass_counts_its_registered_devices(partner, fmt, customer, fakes):
    card = body_of(issue(partner, customer.pk), fmt)
    wallet_pass = WalletPass.objects.get(pk=card["id"])
    url = f"{PASSES}{card['id']}/status/"
    fresh = body_of(partner.get(url), fmt)
    assert fresh["installed_devices"] == 0 and fresh["added_at"] is None and fresh["removed_at"] is None
    assert (
        fresh["status"] == "active"
        and fresh["customer_id"] == customer.pk
        and fresh["pass_type"] == "loyalty"
    )
    assert fresh["title"] == customer.company.loyalty_program.name
    assert fresh["last_updated"] == wallet_pass.changed_at.isoformat().replace("+00:00", "Z")

    first = register(wallet_pass, "device-a")
    second = register(wallet_pass, "device-b")
    assert body_of(partner.get(url), fmt)["installed_devices"] == 2
    AppleRegistration.objects.filter(pk=first.pk).update(unregistered_at=timezone.now())
    one = body_of(partner.get(url), fmt)
    assert one["installed_devices"] == 1 and one["removed_at"] is None and one["added_at"] is not None
    AppleRegistration.objects.filter(pk=second.pk).update(unregistered_at=timezone.now())
    gone = body_of(partner.get(url), fmt)
    assert gone["installed_devices"] == 0 and gone["removed_at"] is not None


def test_status_of_a_google_pass_follows_added_and_removed(api, customer, fakes):
    coupon = CouponFactory.create(customer=customer)
    body = issue(api, customer.pk, "google", coupon.pk).json()["data"]
    url = f"{PASSES}{body['id']}/status/"
    assert api.get(url).json()["data"]["installed_devices"] == 0
    added = timezone.now()
    WalletPass.objects.filter(pk=body["id"]).update(added_at=added)
    status = api.get(url).json()["data"]
    assert status["installed_devices"] == 1 and status["added_at"] is not None
    WalletPass.objects.filter(pk=body["id"]).update(removed_at=added + timedelta(minutes=1))
    assert api.get(url).json()["data"]["installed_devices"] == 0
    coupon_validate(company=customer.company, customer_id=customer.pk, coupon_ref=coupon.pk, api_key=None)
    assert api.get(url).json()["data"]["status"] == "voided"


def test_status_of_an_expired_coupons_pass_is_expired(api, customer, fakes):
    coupon = CouponFactory.create(customer=customer)
    body = issue(api, customer.pk, "apple", coupon.pk).json()["data"]
    type(coupon).objects.filter(pk=coupon.pk).update(valid_until=timezone.now() - timedelta(seconds=1))
    assert api.get(f"{PASSES}{body['id']}/status/").json()["data"]["status"] == "expired"


def test_another_companys_pass_is_404(api, fakes):
    stranger = CustomerFactory.create()
    theirs = Api(make_key(stranger.company))
    their_pass = issue(theirs, stranger.pk).json()["data"]["id"]
    assert_problem(api.get(f"{PASSES}{their_pass}/status/"), 404, "not-found")
    assert_problem(api.get(f"{PASSES}{UNKNOWN}/status/"), 404, "not-found")
    assert theirs.get(f"{PASSES}{their_pass}/status/").status_code == 200


# --- Wallet devices --------------------------------------------------------------------------------
def test_wallet_devices_lists_apple_devices_and_google_passes(partner, fmt, customer, fakes):
    coupon = CouponFactory.create(customer=customer, reward__name="Vale Sobremesa")
    card = WalletPass.objects.get(pk=body_of(issue(partner, customer.pk), fmt)["id"])
    coupon_pass = WalletPass.objects.get(
        pk=body_of(issue(partner, customer.pk, "apple", coupon.pk), fmt)["id"]
    )
    google_card = WalletPass.objects.get(pk=body_of(issue(partner, customer.pk, "google"), fmt)["id"])
    WalletPass.objects.filter(pk=google_card.pk).update(
        added_at=timezone.now(), google_object_id="issuer.card-1"
    )
    register(card, "iphone-1")
    pushed = register(coupon_pass, "iphone-1")
    AppleRegistration.objects.filter(pk=pushed.pk).update(last_push_at=timezone.now())
    register(card, "watch-1", hint="watchos")
    AppleRegistration.objects.filter(wallet_pass=card, device__device_library_identifier="iphone-1").update(
        registered_at=timezone.now() - timedelta(days=2)
    )
    gone = register(coupon_pass, "ipad-old")
    AppleRegistration.objects.filter(pk=gone.pk).update(unregistered_at=timezone.now())
    # Another company's pass on the same device is not shown.
    stranger = CustomerFactory.create()
    register(
        WalletPass.objects.create(
            company=stranger.company,
            customer=stranger,
            kind="loyalty",
            platform="apple",
            changed_at=timezone.now(),
        ),
        "iphone-1",
    )

    body = body_of(partner.get(f"/api/v2/customers/{customer.pk}/wallet-devices/"), fmt)
    assert body["customer_id"] == customer.pk
    assert body["summary"] == {
        "apple": {"installed": True, "device_count": 2, "pass_count": 3},
        "google": {"installed": True, "pass_count": 1},
    }
    devices = {d["device_library_identifier"]: d for d in body["apple_devices"]}
    assert set(devices) == {"iphone-1", "watch-1"}
    iphone = devices["iphone-1"]
    assert (iphone["platform_hint"], iphone["os_version"], iphone["locale"], iphone["device_model"]) == (
        "ios",
        "17.4",
        "pt-BR",
        None,
    )
    assert iphone["first_registered_at"] < iphone["last_registered_at"]  # its two registrations here
    assert devices["watch-1"]["platform_hint"] == "unknown"  # the document knows ios and macos only
    registered = {p["serial_number"]: p for p in iphone["registered_passes"]}
    assert registered[str(card.serial_number)]["pass_type"] == "loyalty"
    assert registered[str(card.serial_number)]["reward_name"] is None
    assert registered[str(card.serial_number)]["last_push_sent"] is None
    assert registered[str(coupon_pass.serial_number)]["reward_name"] == "Vale Sobremesa"
    assert registered[str(coupon_pass.serial_number)]["last_push_sent"].endswith("Z")
    assert body["google_passes"] == [
        {
            "serial_number": str(google_card.serial_number),
            "pass_type": "loyalty",
            "reward_name": None,
            "google_object_id": "issuer.card-1",
        }
    ]


def test_wallet_devices_of_a_customer_without_passes_is_empty(api, customer):
    body = api.get(f"/api/v2/customers/{customer.pk}/wallet-devices/").json()["data"]
    assert body == {
        "customer_id": customer.pk,
        "summary": {
            "apple": {"installed": False, "device_count": 0, "pass_count": 0},
            "google": {"installed": False, "pass_count": 0},
        },
        "apple_devices": [],
        "google_passes": [],
    }


def test_wallet_devices_of_another_companys_customer_is_404(api):
    assert_problem(
        api.get(f"/api/v2/customers/{CustomerFactory.create().pk}/wallet-devices/"), 404, "not-found"
    )


# --- Notifications ---------------------------------------------------------------------------------
def notify(
    api: Api, customer_id: str, message: str = "Você ganhou 1500 pontos!", type: str = "points_update"
) -> Any:
    return api.post(NOTIFY, {"customer_id": customer_id, "type": type, "message": message})


def test_a_notification_is_202_queued_and_fans_out_to_every_pass(partner, fmt, customer, fakes):
    coupon = CouponFactory.create(customer=customer)
    card = WalletPass.objects.get(pk=body_of(issue(partner, customer.pk), fmt)["id"])
    google = WalletPass.objects.get(pk=body_of(issue(partner, customer.pk, "google", coupon.pk), fmt)["id"])
    first, second = register(card, "iphone-1"), register(card, "iphone-2")
    before = card.changed_at

    response = notify(partner, customer.pk, "Seu cupom está disponível! 🎉", "coupon_available")
    assert response.status_code == 202, response.content
    body = body_of(response, fmt)
    notification = WalletNotification.objects.get()
    assert body == {"notification_id": notification.pk, "status": "queued"}
    assert (notification.outcome, notification.type, notification.customer_id) == (
        "queued",
        "coupon_available",
        customer.pk,
    )
    for wallet_pass in (card, google):
        wallet_pass.refresh_from_db()
        assert (wallet_pass.message, wallet_pass.message_type) == (
            "Seu cupom está disponível! 🎉",
            "coupon_available",
        )
        assert wallet_pass.message_at is not None
    assert card.changed_at > before
    jobs = sorted((j.kind, j.wallet_pass_id, j.registration_id) for j in WalletJob.objects.all())
    assert jobs == sorted(
        [
            (JobKind.APPLE_PUSH, card.pk, first.pk),
            (JobKind.APPLE_PUSH, card.pk, second.pk),
            (JobKind.GOOGLE_MESSAGE, google.pk, None),
        ]
    )


def test_a_notification_for_a_customer_without_a_pass_is_202_with_nothing_to_deliver(api, customer, fakes):
    other_company_pass = CustomerFactory.create()
    issue(Api(make_key(other_company_pass.company)), other_company_pass.pk)
    response = notify(api, customer.pk)
    assert response.status_code == 202
    assert response.json()["data"]["status"] == "queued"
    assert WalletNotification.objects.get().outcome == "no_pass"
    assert WalletJob.objects.count() == 0


def test_the_eleventh_notification_in_an_hour_is_202_but_throttled_and_logged(api, customer, fakes, caplog):
    card = WalletPass.objects.get(pk=issue(api, customer.pk).json()["data"]["id"])
    register(card, "iphone-1")
    for n in range(10):
        assert notify(api, customer.pk, f"message {n}").status_code == 202
    caplog.set_level(logging.WARNING, logger="wallet.services")
    eleventh = notify(api, customer.pk, "one too many")
    assert eleventh.status_code == 202
    assert eleventh.json()["data"]["status"] == "queued"
    outcomes = list(WalletNotification.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["queued"] * 10 + ["throttled"]
    card.refresh_from_db()
    assert card.message == "message 9"  # the throttled one reaches no pass
    assert (
        WalletJob.objects.filter(kind=JobKind.APPLE_PUSH).count() == 1
    )  # pending, not yet tried: not queued twice
    assert any("throttled" in r.getMessage() and customer.pk in r.getMessage() for r in caplog.records)
    # An hour later the budget is back.
    WalletNotification.objects.update(created_at=timezone.now() - timedelta(hours=1, seconds=1))
    assert notify(api, customer.pk, "next hour").status_code == 202
    assert WalletNotification.objects.order_by("-id")[0].outcome == "queued"


def test_the_limit_is_a_setting_and_per_customer(api, customer, fakes, settings):
    settings.WALLET_NOTIFICATIONS_PER_HOUR = 1
    other = CustomerFactory.create(company=customer.company)
    for who in (customer, other):
        issue(api, who.pk)
    notify(api, customer.pk)
    notify(api, customer.pk)
    notify(api, other.pk)
    assert sorted(WalletNotification.objects.values_list("customer_id", "outcome")) == sorted(
        [(customer.pk, "queued"), (customer.pk, "throttled"), (other.pk, "queued")]
    )


@pytest.mark.django_db(transaction=True)
def test_parallel_notifications_never_pass_the_limit(monkeypatch, settings):
    install_fake_platforms(monkeypatch)
    settings.WALLET_NOTIFICATIONS_PER_HOUR = 3
    customer = CustomerFactory.create(company=CompanyFactory.create())
    key = make_key(customer.company)
    assert issue(Api(key), customer.pk).status_code == 201
    results = run_together(8, lambda: notify(Api(key), customer.pk).status_code)
    assert results == [202] * 8, results
    outcomes = sorted(WalletNotification.objects.values_list("outcome", flat=True))
    assert outcomes == ["queued"] * 3 + ["throttled"] * 5


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"customer_id", "type", "message"}),
        ({"customer_id": UNKNOWN, "type": "sms", "message": "hi"}, {"type"}),
        ({"customer_id": UNKNOWN, "type": "points_update", "message": ""}, {"message"}),
        ({"customer_id": UNKNOWN, "type": "points_update", "message": "   "}, {"message"}),
        ({"customer_id": UNKNOWN, "type": "points_update", "message": "x" * 501}, {"message"}),
        ({"customer_id": UNKNOWN, "type": "points_update", "message": "a\x00b"}, {"message"}),
        ({"customer_id": "short", "type": "points_update", "message": "hi"}, {"customer_id"}),
    ],
)
def test_invalid_notifications_are_422(api, body, fields):
    problem = assert_problem(api.post(NOTIFY, body), 422, "validation-error")
    assert {e["field"] for e in problem["errors"]} == fields
    assert WalletNotification.objects.count() == 0


def test_a_bad_type_is_refused_with_the_types_that_exist(api, customer):
    problem = assert_problem(notify(api, customer.pk, type="sms"), 422, "validation-error")
    assert (
        problem["errors"][0]["detail"]
        == '"sms" is not one of: points_update, coupon_available, program_update.'
    )


def test_a_message_of_exactly_500_characters_is_accepted(api, customer, fakes):
    issue(api, customer.pk)
    assert notify(api, customer.pk, "é" * 500).status_code == 202
    assert WalletPass.objects.get().message == "é" * 500


def test_a_notification_for_another_companys_customer_is_404(api):
    assert_problem(notify(api, CustomerFactory.create().pk), 404, "not-found")
    assert_problem(notify(api, UNKNOWN), 404, "not-found")
    assert WalletNotification.objects.count() == 0


def test_every_wallet_operation_needs_a_key(customer):
    anonymous = Api(None)
    for response in (
        issue(anonymous, customer.pk),
        issue(anonymous, customer.pk, "apple", UNKNOWN),
        anonymous.get(PASSES, customer_id=customer.pk),
        anonymous.get(f"{PASSES}{UNKNOWN}/status/"),
        anonymous.get(f"/api/v2/customers/{customer.pk}/wallet-devices/"),
        notify(anonymous, customer.pk),
    ):
        assert_problem(response, 401, "authentication-required")


def test_other_methods_on_the_wallet_routes_are_405(api):
    assert_problem(api.get(LOYALTY), 405, "method-not-allowed")
    assert_problem(api.get(NOTIFY), 405, "method-not-allowed")
    assert_problem(api.post(PASSES, {}), 405, "method-not-allowed")
    assert_problem(api.post(f"{PASSES}{UNKNOWN}/status/", {}), 405, "method-not-allowed")
