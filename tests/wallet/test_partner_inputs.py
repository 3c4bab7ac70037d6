"""What the wallet's partner operations make of sloppy and hostile input: invisible and control
characters in a notification, padded and numeric values, page numbers, and how a 503 is logged."""

import logging
from typing import Any

import pytest

from tests.conftest import Api, assert_problem
from tests.factories import make_key
from tests.wallet.fake_platforms import FakePlatform, install_fake_platforms
from wallet.models import WalletNotification, WalletPass

pytestmark = pytest.mark.django_db

LOYALTY = "/api/v2/wallet/passes/loyalty/"
COUPONS = "/api/v2/wallet/passes/coupons/"
PASSES = "/api/v2/wallet/passes/"
NOTIFY = "/api/v2/wallet/notifications/"


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> dict[str, FakePlatform]:
    return install_fake_platforms(monkeypatch)


def notify(api: Api, customer_id: str, message: Any) -> Any:
    return api.post(NOTIFY, {"customer_id": customer_id, "type": "points_update", "message": message})


# --- Notification messages -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "message",
    [
        "\u200b",  # zero-width space (Cf)
        "\u200b\u200b\ufeff",  # and a byte order mark
        "\u2800",  # braille blank
        "\u00a0\u3000\u2003",  # no-break, ideographic and em spaces (Zs)
        "\u2028\u2029",  # line and paragraph separators
        " \u200e\u200f\u202e \t\n",  # direction marks among blanks
    ],
    ids=["zwsp", "zwsp-bom", "braille-blank", "unicode-spaces", "separators", "direction-marks"],
)
def test_a_message_with_nothing_visible_is_422(api, customer, message):
    problem = assert_problem(notify(api, customer.pk, message), 422, "validation-error")
    assert problem["errors"] == [
        {"field": "message", "detail": "This field may not be blank (nothing in it is visible)."}
    ]
    assert WalletNotification.objects.count() == 0


@pytest.mark.parametrize(
    ("message", "named"),
    [
        ("\u001b[31mred\u0007\u202eevil", "U+001B"),
        ("ding\u0007", "U+0007"),
        ("del\u007f", "U+007F"),
        ("c1\u0085", "U+0085"),
    ],
)
def test_a_message_with_control_characters_is_422(api, customer, message, named):
    problem = assert_problem(notify(api, customer.pk, message), 422, "validation-error")
    assert [e["field"] for e in problem["errors"]] == ["message"]
    assert named in problem["errors"][0]["detail"]
    assert WalletNotification.objects.count() == 0


@pytest.mark.parametrize(
    "message",
    [
        "Você ganhou 50 pontos! 🎉",
        "Família 👨\u200d👩\u200d👧 bem-vinda",  # emoji joined by zero-width joiners (Cf)
        "Linha 1\nLinha 2\tcom tab",
        "\u200bolá",  # visible text after an invisible character
        "🇧🇷",
    ],
)
def test_text_emoji_accents_newlines_and_tabs_are_accepted(api, customer, fakes, message):
    api.post(LOYALTY, {"customer_id": customer.pk, "platform": "apple"})
    assert notify(api, customer.pk, message).status_code == 202
    assert WalletPass.objects.get().message == message


def test_windows_line_ends_are_newlines(api, customer, fakes):
    api.post(LOYALTY, {"customer_id": customer.pk, "platform": "apple"})
    assert notify(api, customer.pk, "Linha 1\r\nLinha 2\rLinha 3").status_code == 202
    assert WalletPass.objects.get().message == "Linha 1\nLinha 2\nLinha 3"


# --- Values as partners send them ------------------------------------------------------------------
@pytest.mark.parametrize("platform", [" Apple ", "apple\n", "\tGOOGLE"])
def test_a_padded_platform_is_read_like_a_padded_customer_id(api, customer, fakes, platform):
    response = api.post(LOYALTY, {"customer_id": f" {customer.pk} ", "platform": platform})
    assert response.status_code == 201, response.content
    assert response.json()["data"]["platform"] == platform.strip().lower()


def test_numbers_for_string_fields_are_read_as_their_digits_everywhere(api, customer, fakes):
    # DRF's CharField convention, as for every other string of the API: 12345 is "12345".
    api.post(LOYALTY, {"customer_id": customer.pk, "platform": "apple"})
    assert notify(api, customer.pk, 12345).status_code == 202
    assert WalletPass.objects.get().message == "12345"
    missing = api.post(COUPONS, {"customer_id": customer.pk, "coupon_id": 12345678, "platform": "apple"})
    assert_problem(missing, 404, "not-found")
    # ... so a platform sent as 1 is "1", which is no platform, and says which ones there are.
    problem = assert_problem(
        api.post(LOYALTY, {"customer_id": customer.pk, "platform": 1}), 422, "validation-error"
    )
    assert problem["errors"] == [{"field": "platform", "detail": '"1" is not one of: apple, google.'}]


@pytest.mark.parametrize("value", [True, ["hi"], {"text": "hi"}])
def test_booleans_lists_and_objects_for_a_message_are_422(api, customer, value):
    assert_problem(notify(api, customer.pk, value), 422, "validation-error")


# --- Paging ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["root", "envelope"])
def test_a_page_number_is_refused_rather_than_answered_with_the_first_page(company, customer, fakes, fmt):
    partner = Api(make_key(company, response_format=fmt))
    for platform in ("apple", "google"):
        partner.post(LOYALTY, {"customer_id": customer.pk, "platform": platform})
    problem = assert_problem(
        partner.get(PASSES, customer_id=customer.pk, page_size=1, page=2), 422, "validation-error"
    )
    assert [e["field"] for e in problem["errors"]] == ["page"]
    assert "cursor" in problem["errors"][0]["detail"]
    # page=1 (or none) is the first page, which is what it names; the cursor walks on.
    first = partner.get(PASSES, customer_id=customer.pk, page_size=1, page=1)
    assert first.status_code == 200


def test_a_page_number_on_the_coupon_list_is_refused_the_same_way(api, customer):
    problem = assert_problem(api.get("/api/v2/coupons/issued/", page="2"), 422, "validation-error")
    assert [e["field"] for e in problem["errors"]] == ["page"]


# --- The 503 in the logs ---------------------------------------------------------------------------
def test_a_wallet_503_is_one_warning_and_no_django_request_error(api, customer, fakes, caplog):
    fakes["google"].is_configured = False
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            response = api.post(LOYALTY, {"customer_id": customer.pk, "platform": "google"})
            assert_problem(response, 503, "wallet-temporarily-unavailable", "wallet_temporarily_unavailable")
    assert [r for r in caplog.records if r.name == "django.request"] == []
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    warnings = [r for r in caplog.records if r.name == "core.errors"]
    assert len(warnings) == 3 and {r.levelno for r in warnings} == {logging.WARNING}
    assert "Google Wallet is not configured" in warnings[0].getMessage()
