import json
import logging
import random
import string
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from prometheus_client.metrics import MetricWrapperBase

from tests.conftest import Api
from tests.factories import CompanyFactory, CustomerFactory, RewardFactory, make_key

pytestmark = pytest.mark.django_db


def request_lines(caplog: pytest.LogCaptureFixture) -> list[Any]:  # records with the log line's extra fields
    return [r for r in caplog.records if r.name == "zupy.request"]


def test_one_log_line_per_request_with_its_fields(api, company, caplog):
    caplog.set_level(logging.INFO, logger="zupy.request")
    response = api.client.get("/api/v2/rewards/", HTTP_X_REQUEST_ID="till-3.req-42")
    assert response["X-Request-ID"] == "till-3.req-42"
    (line,) = request_lines(caplog)
    assert (line.method, line.path, line.route, line.status) == (
        "GET",
        "/api/v2/rewards/",
        "/api/v2/rewards/",
        200,
    )
    assert line.company_id == company.pk and line.request_id == "till-3.req-42"
    assert isinstance(line.duration_ms, float)


def test_a_request_id_is_generated_when_missing_or_unsafe(caplog):
    caplog.set_level(logging.INFO, logger="zupy.request")
    generated = Client().get("/healthz")["X-Request-ID"]
    assert len(generated) == 32
    replaced = Client().get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")["X-Request-ID"]
    assert replaced != "bad id\nwith newline" and len(replaced) == 32
    lines = request_lines(caplog)
    assert [line.route for line in lines] == ["/healthz", "/healthz"]


def test_the_json_formatter_writes_one_object_per_line(settings):
    from pythonjsonlogger.json import JsonFormatter

    formatter = JsonFormatter(
        **{k: v for k, v in settings.LOGGING["formatters"]["json"].items() if k != "()"}
    )
    record = logging.LogRecord("zupy.request", logging.INFO, __file__, 1, "request", None, None)
    record.status = 200
    data = json.loads(formatter.format(record))
    assert (data["logger"], data["level"], data["message"], data["status"]) == (
        "zupy.request",
        "INFO",
        "request",
        200,
    )


@pytest.mark.django_db(transaction=True)
def test_secrets_never_reach_the_logs(caplog, settings):
    """API keys, OTP codes and OTP session tokens: in no log line of a whole flow, at DEBUG level."""
    settings.OTP_SENDERS = {"whatsapp": "otp.senders.EmailSender", "email": "otp.senders.EmailSender"}
    caplog.set_level(logging.DEBUG)
    company = CompanyFactory.create(otp_preset="strict")
    raw_key = make_key(company)
    api = Api(raw_key)
    customer = CustomerFactory.create(company=company, email="m@example.com", points=500)
    reward = RewardFactory.create(company=company, points_required=100)
    api.post("/api/v2/auth/request-otp/", {"identifier": "m@example.com"})
    code = next(w for w in mail.outbox[-1].body.split() if w.isdigit() and len(w) == 6)
    wrong = "000000" if code != "000000" else "111111"
    api.post("/api/v2/auth/verify-otp/", {"identifier": "m@example.com", "otp_code": wrong})
    api.post("/api/v2/auth/request-otp/", {"identifier": "m@example.com"})
    code = next(w for w in mail.outbox[-1].body.split() if w.isdigit() and len(w) == 6)
    session = api.post("/api/v2/auth/verify-otp/", {"identifier": "m@example.com", "otp_code": code}).json()[
        "data"
    ]["otp_session"]
    api.post(f"/api/v2/customers/{customer.pk}/rewards/{reward.pk}/redeem/", {}, HTTP_X_OTP_SESSION=session)
    Api("zupy_pk_" + "Z" * 32).get("/api/v2/rewards/")  # a refused key is not logged either

    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert caplog.records, "nothing was logged"
    for secret in (raw_key, code, session, "zupy_pk_" + "Z" * 32):
        assert secret not in text


def test_a_token_in_a_path_is_not_logged(caplog):
    """A pass's download link (and a design image's) is all that guards it: the log writes the
    route's shape in its place, in the message and in the path field."""
    caplog.set_level(logging.INFO, logger="zupy.request")
    token = "".join(random.choices(string.ascii_letters + string.digits, k=43))
    client = Client()
    client.get(f"/wallet/apple/{token}.pkpass")
    client.get(f"/wallet/images/{token}/google-logo.png")
    lines = request_lines(caplog)
    assert [line.path for line in lines] == [
        "/wallet/apple/<token>.pkpass",
        "/wallet/images/<token>/google-logo.png",
    ]
    assert all(token not in line.getMessage() for line in lines)


def test_metrics_are_served_to_loopback_only_without_a_token(api, settings):
    api.get("/api/v2/rewards/")
    local = Client(REMOTE_ADDR="127.0.0.1").get("/metrics")
    assert local.status_code == 200
    body = local.content.decode()
    assert 'zupy_http_requests_total{method="GET",route="/api/v2/rewards/",status="200"}' in body
    assert "zupy_http_request_duration_seconds_bucket" in body
    outside = Client(REMOTE_ADDR="203.0.113.9").get("/metrics", HTTP_X_API_KEY="anything")
    assert outside.status_code == 404 and outside["Content-Type"] == "application/problem+json"


def test_metrics_with_a_token(settings):
    settings.METRICS_TOKEN = "scrape-me"
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 404
    ok = Client(REMOTE_ADDR="10.1.2.3").get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me")
    assert ok.status_code == 200


def test_domain_metrics_count_redemptions_validations_and_conflicts(api, customer):
    from prometheus_client import REGISTRY

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0

    reward = RewardFactory.create(company=customer.company, points_required=10)
    route = "/api/v2/customers/<id:customer_id>/coupons/<id:coupon_ref>/validate/"
    counters = [
        ("zupy_redemptions_total", {"status": "200"}),
        ("zupy_validations_total", {"status": "200"}),
        ("zupy_validations_total", {"status": "409"}),
        ("zupy_conflicts_total", {"route": route}),
    ]
    before = [value(name, **labels) for name, labels in counters]
    coupon_id = api.redeem(customer.pk, reward.pk).json()["data"]["coupon_id"]
    assert api.validate(customer.pk, coupon_id).status_code == 200
    assert api.validate(customer.pk, coupon_id).status_code == 409
    after = [value(name, **labels) for name, labels in counters]
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1, 1]


def label_sets(metric: MetricWrapperBase) -> set[tuple[tuple[str, str], ...]]:
    return {tuple(sorted(sample.labels.items())) for family in metric.collect() for sample in family.samples}


def test_random_methods_and_paths_add_no_time_series(api):
    """Anyone may send any method to any path; the label set must not grow with what they send."""
    from core.observability import KNOWN_METHODS, REQUESTS

    rng = random.Random(12)
    client = Client()
    for _ in range(5):  # the closed set of labels these requests can produce, seen once
        client.generic("FOO", "/api/v2/rewards/")
        client.get(f"/nowhere/{rng.getrandbits(64)}")
        api.client.generic("BREW", "/nowhere/")
    before = label_sets(REQUESTS)
    for _ in range(50):
        method = "".join(rng.choice(string.ascii_uppercase) for _ in range(rng.randint(3, 12)))
        path = "/" + "/".join(str(rng.getrandbits(32)) for _ in range(rng.randint(1, 4))) + "/"
        client.generic(method, rng.choice([path, "/api/v2/rewards/", "/api/v2" + path]))
        api.client.generic(method, path)
    after = label_sets(REQUESTS)
    assert after == before
    assert {dict(labels)["method"] for labels in after} <= {*KNOWN_METHODS, "other"}
    assert ("route", "other") in {pair for labels in after for pair in labels}


def test_a_path_cannot_forge_or_break_a_plain_log_line(caplog):
    """The path arrives decoded: CR LF or NUL in it would start a fake line in the plain format."""
    caplog.set_level(logging.INFO, logger="zupy.request")
    Client().get("/api/v2/customers/x%0d%0a2026-11-26 INFO zupy.request FORGED%00/")
    (line,) = request_lines(caplog)
    message = line.getMessage()
    assert "\r" not in message and "\n" not in message and "\x00" not in message
    assert "%0D%0A2026-11-26%20INFO" in message
