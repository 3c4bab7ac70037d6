"""Form bodies (application/x-www-form-urlencoded and multipart/form-data), which upstream declares for
its writes: read with the same validation as JSON; a form whose keys are not the operation's fields (JSON
sent without a Content-Type) stays a 415; a file part is refused."""

import base64
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from coupons.models import Coupon, CouponStatus
from customers.models import Customer, LedgerEntry
from tests.conftest import Api, assert_problem
from tests.factories import CouponFactory, CustomerFactory, RewardFactory
from tests.wallet.fake_platforms import install_fake_platforms
from wallet.models import WalletNotification

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
FORMATS = ["urlencoded", "multipart"]


def post_form(api: Api, path: str, fields: Any, how: str) -> Any:
    """``fields`` a dict, or a list of pairs for a key sent more than once."""
    if how == "urlencoded":
        return api.client.generic("POST", path, urlencode(fields, doseq=True), content_type=FORM)
    pairs = fields.items() if isinstance(fields, dict) else fields
    grouped: dict[str, Any] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    body = encode_multipart(BOUNDARY, {k: v[0] if len(v) == 1 else v for k, v in grouped.items()})
    # Django's generic() sends bytes as they are; djangorestframework-stubs says str only.
    return api.client.generic("POST", path, body, content_type=MULTIPART_CONTENT)  # type: ignore[arg-type]


def redeem_path(customer: Customer, reward_id: str) -> str:
    return f"/api/v2/customers/{customer.pk}/rewards/{reward_id}/redeem/"


# --- Read as JSON would be --------------------------------------------------------------------------
@pytest.mark.parametrize("how", FORMATS)
@pytest.mark.parametrize("sent", ["true", "True", "TRUE"])
def test_a_form_redeem_keeps_its_z_flag(api, company, how, sent):
    customer = CustomerFactory.create(company=company, points=450, z=Decimal("1150"))
    reward = RewardFactory.create(company=company, points_required=500)
    response = post_form(api, redeem_path(customer, reward.pk), {"use_z_tokens": sent}, how)
    assert response.status_code == 200, response.content
    assert response.json()["data"]["z_tokens_used"] == "60.000000"


@pytest.mark.parametrize("how", FORMATS)
def test_a_form_redeem_with_false_spends_no_z_and_yes_is_422(api, company, how):
    customer = CustomerFactory.create(company=company, points=450, z=Decimal("1150"))
    reward = RewardFactory.create(company=company, points_required=500)
    path = redeem_path(customer, reward.pk)
    # Without Z$ the points fall short: the flag was read as false, not dropped.
    short = post_form(api, path, {"use_z_tokens": "false"}, how)
    assert_problem(short, 422, "validation-error", "insufficient_points")
    problem = assert_problem(post_form(api, path, {"use_z_tokens": "yes"}, how), 422, "validation-error")
    assert [error["field"] for error in problem["errors"]] == ["use_z_tokens"]
    assert not Coupon.objects.filter(customer=customer).exists()


@pytest.mark.parametrize("how", FORMATS)
def test_a_form_points_add_reads_its_amount_as_json_does(api, customer, how):
    path = f"/api/v2/customers/{customer.pk}/points/add/"
    response = post_form(api, path, {"amount": "1", "reason": "balcão"}, how)
    assert response.status_code == 200, response.content
    assert (response.json()["data"]["amount"], response.json()["data"]["reason"]) == (1, "balcão")
    before = LedgerEntry.objects.count()
    for bad in ("1.5", "um", "", "٣"):
        problem = assert_problem(post_form(api, path, {"amount": bad}, how), 422, "validation-error")
        assert [error["field"] for error in problem["errors"]] == ["amount"]
    assert LedgerEntry.objects.count() == before


@pytest.mark.parametrize("how", FORMATS)
def test_a_form_key_sent_twice_is_422_not_one_of_them(api, customer, how):
    path = f"/api/v2/customers/{customer.pk}/points/add/"
    before = LedgerEntry.objects.count()
    problem = assert_problem(
        post_form(api, path, [("amount", "1"), ("amount", "900")], how), 422, "validation-error"
    )
    assert problem["errors"] == [{"field": "amount", "detail": "Given more than once; send one value."}]
    assert LedgerEntry.objects.count() == before


@pytest.mark.parametrize("how", FORMATS)
def test_a_form_enrolment_with_blank_optionals_is_the_collections_enrolment(api, how):
    fields = {"phone": "+5511987654321", "name": "Maria Silva", "email": "", "cpf": ""}
    created = post_form(api, "/api/v2/customers/", fields, how)
    assert created.status_code == 201, created.content
    again = post_form(api, "/api/v2/customers/", fields, how)
    assert again.status_code == 200, again.content
    assert again.json()["data"]["matched_on"] == "phone"
    problem = assert_problem(
        post_form(api, "/api/v2/customers/", {"phone": "12"}, how), 422, "validation-error"
    )
    assert [error["field"] for error in problem["errors"]] == ["phone"]


@pytest.mark.parametrize("how", FORMATS)
def test_a_form_validate_with_no_fields_validates(api, customer, how):
    coupon = CouponFactory.create(customer=customer)
    path = f"/api/v2/customers/{customer.pk}/coupons/{coupon.pk}/validate/"
    response = post_form(api, path, {}, how)
    assert response.status_code == 200, response.content
    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.USED


@pytest.mark.parametrize("how", FORMATS)
def test_a_form_validate_with_a_key_is_415(api, customer, how):
    coupon = CouponFactory.create(customer=customer)
    path = f"/api/v2/customers/{customer.pk}/coupons/{coupon.pk}/validate/"
    body = assert_problem(post_form(api, path, {"code": coupon.code}, how), 415, "unsupported-media-type")
    assert '"code"' in body["detail"]
    coupon.refresh_from_db()
    assert coupon.status != CouponStatus.USED


@pytest.mark.parametrize("how", FORMATS)
def test_a_form_wallet_notification_is_accepted_and_checked(api, customer, monkeypatch, how):
    install_fake_platforms(monkeypatch)
    api.post("/api/v2/wallet/passes/loyalty/", {"customer_id": customer.pk, "platform": "apple"})
    fields = {"customer_id": customer.pk, "type": "POINTS_UPDATE", "message": "Você ganhou 50 pontos! 🎉"}
    response = post_form(api, "/api/v2/wallet/notifications/", fields, how)
    assert response.status_code == 202, response.content
    assert WalletNotification.objects.get().message == fields["message"]
    fields["message"] = "ding\u0007"
    problem = assert_problem(
        post_form(api, "/api/v2/wallet/notifications/", fields, how), 422, "validation-error"
    )
    assert [error["field"] for error in problem["errors"]] == ["message"]
    assert WalletNotification.objects.count() == 1


# --- Refused ----------------------------------------------------------------------------------------
def test_json_sent_as_curl_d_sends_it_is_415_and_redeems_nothing(api, company):
    # curl -d '{"use_z_tokens": true}' without -H: a form whose one key is the JSON text.
    customer = CustomerFactory.create(company=company, points=600, z=Decimal("1150"))
    reward = RewardFactory.create(company=company, points_required=500)
    response = api.client.generic(
        "POST", redeem_path(customer, reward.pk), '{"use_z_tokens": true}', content_type=FORM
    )
    body = assert_problem(response, 415, "unsupported-media-type")
    assert body["detail"] == (
        f'The body was sent as "{FORM}" with keys that are not this operation\'s fields '
        '("{"use_z_tokens": true}"); send it as JSON with Content-Type: application/json.'
    )
    assert not Coupon.objects.filter(customer=customer).exists()


@pytest.mark.parametrize("how", FORMATS)
def test_a_form_with_any_key_not_a_field_is_415(api, customer, how):
    path = f"/api/v2/customers/{customer.pk}/points/add/"
    before = LedgerEntry.objects.count()
    response = post_form(api, path, {"amount": "5", "amout": "5"}, how)
    body = assert_problem(response, 415, "unsupported-media-type")
    assert '"amout"' in body["detail"]
    assert LedgerEntry.objects.count() == before


def test_a_multipart_file_part_is_refused(api, customer):
    before = LedgerEntry.objects.count()
    path = f"/api/v2/customers/{customer.pk}/points/add/"
    body = encode_multipart(BOUNDARY, {"amount": "5", "reason": SimpleUploadedFile("r.txt", b"x")})
    response = api.client.generic("POST", path, body, content_type=MULTIPART_CONTENT)
    problem = assert_problem(response, 400, "validation-error", "malformed_body")
    assert "reason" in problem["detail"]
    assert LedgerEntry.objects.count() == before


def test_the_inbound_partner_webhook_stays_json_only(api):
    response = api.client.generic(
        "POST", "/api/v2/webhooks/integrations/repediu/", "orders=1", content_type=FORM
    )
    assert_problem(response, 415, "unsupported-media-type")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"--nope\r\n", "multipart/form-data"),  # no boundary
        (b"garbage", f"{MULTIPART_CONTENT}"),
        (b"amount=1&" * 1200, FORM),  # past Django's DATA_UPLOAD_MAX_NUMBER_FIELDS
    ],
    ids=["no-boundary", "not-multipart", "too-many-fields"],
)
def test_a_malformed_form_is_a_4xx_problem_and_writes_nothing(api, customer, body, content_type):
    before = LedgerEntry.objects.count()
    response = api.client.generic(
        "POST", f"/api/v2/customers/{customer.pk}/points/add/", body, content_type=content_type
    )
    assert 400 <= response.status_code < 500, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert LedgerEntry.objects.count() == before


# --- As strict as JSON --------------------------------------------------------------------------------
def _points_add(customer: Customer) -> str:
    return f"/api/v2/customers/{customer.pk}/points/add/"


def _multipart(fields: dict[str, bytes]) -> bytes:
    """A multipart body of plain fields with their bytes exactly as given."""
    parts = [
        b"--" + BOUNDARY.encode() + b"\r\n"
        b'Content-Disposition: form-data; name="' + name.encode() + b'"\r\n\r\n' + value + b"\r\n"
        for name, value in fields.items()
    ]
    return b"".join(parts) + b"--" + BOUNDARY.encode() + b"--\r\n"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"amount=1&reason=caf\xe9", FORM),  # Latin-1, raw
        (b"amount=1&reason=caf%E9", FORM),  # Latin-1, %-escaped
        (b"amount=1&reason=caf%C3", FORM),  # a UTF-8 sequence cut short
        (_multipart({"amount": b"1", "reason": b"caf\xe9"}), MULTIPART_CONTENT),
    ],
    ids=["urlencoded-raw", "urlencoded-escaped", "urlencoded-cut", "multipart"],
)
def test_a_form_that_is_not_utf8_is_400_as_json_is(api, customer, body, content_type):
    path = _points_add(customer)
    json_answer = api.client.generic("POST", path, b'{"amount": 1, "reason": "caf\xe9"}', "application/json")
    assert_problem(json_answer, 400, "validation-error", "malformed_body")
    problem = assert_problem(
        api.client.generic("POST", path, body, content_type=content_type),
        400,
        "validation-error",
        "malformed_body",
    )
    assert "UTF-8" in problem["detail"] or "utf-8" in problem["detail"]
    assert not LedgerEntry.objects.filter(customer=customer, reason__startswith="caf").exists()


def test_utf8_in_a_form_is_read_as_text(api, customer):
    path = _points_add(customer)
    urlencoded = api.client.generic("POST", path, b"amount=1&reason=caf%C3%A9", content_type=FORM)
    assert urlencoded.status_code == 200, urlencoded.content
    multipart = api.client.generic(
        "POST", path, _multipart({"amount": b"1", "reason": "café".encode()}), content_type=MULTIPART_CONTENT
    )
    assert multipart.status_code == 200, multipart.content
    assert list(LedgerEntry.objects.filter(customer=customer, amount=1).values_list("reason", flat=True)) == [
        "café",
        "café",
    ]


def test_a_plus_in_a_form_number_is_refused_as_json_refuses_it(api, customer):
    path = _points_add(customer)
    before = LedgerEntry.objects.count()
    as_json = assert_problem(api.post(path, {"amount": "+10"}), 422, "validation-error")
    assert [error["field"] for error in as_json["errors"]] == ["amount"]
    for body in (b"amount=+10", b"amount=%2010", b"amount=10+"):
        problem = assert_problem(
            api.client.generic("POST", path, body, content_type=FORM), 422, "validation-error"
        )
        assert [error["field"] for error in problem["errors"]] == ["amount"]
        assert '"+" is a space' in problem["errors"][0]["detail"]
    literal = assert_problem(
        api.client.generic("POST", path, b"amount=%2B10", content_type=FORM), 422, "validation-error"
    )
    assert [error["field"] for error in literal["errors"]] == ["amount"]
    assert LedgerEntry.objects.count() == before
    # A "+" between words of a text field is the space it stands for.
    spaced = api.client.generic("POST", path, b"amount=10&reason=balc%C3%A3o+2", content_type=FORM)
    assert spaced.status_code == 200, spaced.content
    assert spaced.json()["data"]["reason"] == "balcão 2"


@pytest.mark.parametrize(
    "cut",
    [
        lambda body: body[: body.rindex(b"--" + BOUNDARY.encode() + b"--")],  # no closing boundary
        lambda body: body[: body.index(b"balc") + 2],  # in the middle of a value
    ],
    ids=["closing-boundary", "mid-value"],
)
def test_a_truncated_multipart_body_is_400_and_writes_nothing(api, customer, cut):
    body = cut(_multipart({"amount": b"7", "reason": "balcão".encode()}))
    response = api.client.generic("POST", _points_add(customer), body, content_type=MULTIPART_CONTENT)
    assert_problem(response, 400, "validation-error", "malformed_body")
    assert not LedgerEntry.objects.filter(customer=customer, amount=7).exists()


@pytest.mark.parametrize("how", FORMATS)
def test_a_form_with_5000_keys_is_the_malformed_body_problem(settings, api, customer, how):
    settings.ZUPY_MAX_BODY_BYTES = 1024 * 1024  # 5,000 multipart fields are 300 kB
    path = _points_add(customer)
    if how == "urlencoded":
        body = b"&".join(b"k%d=1" % i for i in range(5000))
        response = api.client.generic("POST", path, body, content_type=FORM)
    else:
        body = _multipart({f"k{i}": b"1" for i in range(5000)})
        response = api.client.generic("POST", path, body, content_type=MULTIPART_CONTENT)
    problem = assert_problem(response, 400, "validation-error", "malformed_body")
    assert "1000 fields" in problem["detail"]


@pytest.mark.parametrize("how", FORMATS)
def test_one_idempotency_key_for_a_form_then_json_with_equal_fields_replays(api, customer, how):
    path = _points_add(customer)
    key = {"HTTP_IDEMPOTENCY_KEY": f"till-3-{how}"}
    fields = {"amount": "5", "reason": "balcão"}
    if how == "urlencoded":
        first = api.client.generic("POST", path, urlencode(fields), content_type=FORM, **key)
    else:
        first = api.client.generic(
            "POST", path, encode_multipart(BOUNDARY, fields), content_type=MULTIPART_CONTENT, **key
        )
    assert first.status_code == 200, first.content
    # The same data as JSON, keys the other way round: the same request, replayed.
    again = api.client.generic(
        "POST", path, '{"reason": "balcão", "amount": 5}', content_type="application/json", **key
    )
    assert again.status_code == 200, again.content
    assert again["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    other = api.post(path, {"amount": 6, "reason": "balcão"}, **key)
    assert_problem(other, 422, "validation-error", "idempotency_key_reused")
    assert LedgerEntry.objects.filter(customer=customer, amount=5).count() == 1


def test_a_multipart_part_that_reencodes_its_text_is_400_and_8bit_is_text(api, customer):
    """base64 would carry bytes the UTF-8 check of the body never sees (Django decodes them with
    U+FFFD for what is not text); RFC 7578 forbids the header, 7bit/8bit/binary say "as it is"."""
    path = _points_add(customer)
    b = BOUNDARY.encode()

    def body(encoding: bytes, value: bytes) -> bytes:
        return (
            b"--" + b + b'\r\nContent-Disposition: form-data; name="amount"\r\n\r\n1\r\n'
            b"--" + b + b'\r\nContent-Disposition: form-data; name="reason"\r\n'
            b"Content-Transfer-Encoding: " + encoding + b"\r\n\r\n" + value + b"\r\n--" + b + b"--\r\n"
        )

    refused = api.client.generic(
        "POST", path, body(b"base64", base64.b64encode(b"caf\xe9")), content_type=MULTIPART_CONTENT
    )
    assert (
        "Content-Transfer-Encoding"
        in assert_problem(refused, 400, "validation-error", "malformed_body")["detail"]
    )
    assert not LedgerEntry.objects.filter(customer=customer, amount=1).exists()
    plain = api.client.generic("POST", path, body(b"8bit", "café".encode()), content_type=MULTIPART_CONTENT)
    assert plain.status_code == 200, plain.content
    assert plain.json()["data"]["reason"] == "café"


def test_a_multipart_part_without_its_headers_is_400_not_an_empty_form(api: Api, customer: Customer) -> None:
    """What the schema fuzz sent: text straight after the boundary, no headers, no line break before
    the closing boundary. Django reads no field from it; a redemption must not go ahead without them."""
    boundary = "67899048d214829e79f87037f1bc0bce"
    body = f"--{boundary}\r\n[{{'use_z_tokens': true}}]--{boundary}--\r\n"
    response = api.client.generic(
        "POST",
        f"/api/v2/customers/{customer.pk}/points/add/",
        body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 400, response.content
