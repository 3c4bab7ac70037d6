"""Schema fuzzing with schemathesis against the served /api/v2/schema/, in process (WSGI), with a
valid key on a seeded database: no 5xx, every answer conforms to the document, every error is
problem+json.

CI (``scripts/test``) runs a bounded, derandomised set: SCHEMATHESIS_MAX_EXAMPLES (default 15) per
operation, the same examples every run. ``scripts/fuzz N`` runs N random examples per operation and
prints how many cases ran and how many failed (docs/reliability.md keeps the latest long run).

The key is given through schemathesis's auth hook, not by overwriting the X-API-Key header: a
negative case that removes or breaks the key must go out without it (and get its 401), where an
overwritten header turned it into a valid request that the negative-data check then reported as
"schema-violating request accepted" (ST201).
"""

import json
import os
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from pytest_django.fixtures import Settings
from requests.structures import CaseInsensitiveDict
from schemathesis import Case
from schemathesis.auths import AuthContext
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.errors import InvalidSchema
from schemathesis.core.result import Err, Ok
from schemathesis.schemas import APIOperation

from companies.models import API_KEY_PREFIX, ApiKey, api_key_digest
from integrations.services import integration_configure
from tests.factories import CompanyFactory, CouponFactory, CustomerFactory, RewardFactory
from tests.wallet.fake_platforms import install_fake_platforms
from wallet.models import PassKind, Platform, WalletPass

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "15"))
# CI replays the same examples every run (main stays green for reproducible reasons); an exploratory
# run draws new ones: SCHEMATHESIS_RANDOM=1 (scripts/fuzz sets it).
DERANDOMIZE = os.environ.get("SCHEMATHESIS_RANDOM") != "1"
# Where scripts/fuzz wants the tally of cases and failures (JSON), if anywhere.
REPORT = os.environ.get("SCHEMATHESIS_REPORT")
_aim = random.Random(20261125) if DERANDOMIZE else random.Random()

# Operations that reach outside the machine by design are not fuzzed: the webhook test ping POSTs to
# the configured URL, and configuring a webhook resolves the URL's host name (a DNS query for every
# generated name). Their input handling is tested with local receivers in tests/webhooks/.
OUTBOUND = ["webhooks_test", "webhooks_config_update"]
# The inbound partner webhook is fuzzed against a configured integration (half the cases aim at its
# slug, the rest get 403 integration-not-found): any array of orders or order object is stored.
# The wallet operations are fuzzed with the platforms
# replaced by fakes (tests/wallet/fake_platforms.py): configured, so a valid case issues a pass.
schema = schemathesis.openapi.from_wsgi(
    "/api/v2/schema/?format=openapi-json", get_wsgi_application()
).exclude(operation_id=OUTBOUND)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]
# OTP codes go to the log and Django's test outbox, never through an HTTP gateway, whatever the
# environment configures.
LOCAL_SENDERS = {"whatsapp": "otp.senders.ConsoleSender", "email": "otp.senders.EmailSender"}

# Known before the database exists: schemathesis builds its coverage-phase cases (and asks the auth
# hook for their key) when the test is collected, not when it runs.
FUZZ_KEY = API_KEY_PREFIX + "fuzz" * 8
FUZZ_PARTNER = "fuzz-pos"
_tally: Counter[str] = Counter()
_failed_operations: set[str] = set()


@schema.auth(refresh_interval=None)
class PartnerKey:
    """The seeded company's key on every case, except where a negative case removed it on purpose
    (schemathesis then skips this hook)."""

    def get(self, case: Case, context: AuthContext) -> str:
        return FUZZ_KEY

    def set(self, case: Case, data: str, context: AuthContext) -> None:
        headers = CaseInsensitiveDict(case.headers or {})
        headers["X-API-Key"] = data
        case.headers = headers


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    if REPORT:
        tally: dict[str, object] = {"cases": _tally["cases"], "failed_cases": _tally["failed"]}
        tally["failed_operations"] = sorted(_failed_operations)
        Path(REPORT).write_text(json.dumps(tally))


@pytest.fixture
def seeded(transactional_db: None, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    settings.OTP_SENDERS = LOCAL_SENDERS
    install_fake_platforms(monkeypatch)
    company = CompanyFactory.create(rate_tier="enterprise")
    customer = CustomerFactory.create(company=company, points=10**6, phone="+5511987654321")
    reward = RewardFactory.create(company=company, points_required=10)
    coupon = CouponFactory.create(customer=customer, reward=reward, reward__total_usages_allowed=1000)
    ApiKey.objects.create(company=company, prefix=FUZZ_KEY[:12], digest=api_key_digest(FUZZ_KEY))
    integration_configure(company=company, slug=FUZZ_PARTNER)
    card = WalletPass.objects.create(
        company=company,
        customer=customer,
        kind=PassKind.LOYALTY,
        platform=Platform.APPLE,
        changed_at=coupon.created_at,
    )
    return {
        "customer_id": customer.pk,
        "reward_id": reward.pk,
        "coupon_ref": coupon.pk,
        "pass_id": card.pk,
        "partner": FUZZ_PARTNER,
    }


def _ok(result: Ok[APIOperation] | Err[InvalidSchema]) -> APIOperation:
    """The operation, or the schema error raised (the document must load whole)."""
    if isinstance(result, Err):
        raise result.err()
    return result.ok()


def test_outbound_operations_are_not_fuzzed():
    served = {_ok(operation).definition.raw.get("operationId") for operation in schema.get_all_operations()}
    assert served and not served & set(OUTBOUND)
    assert "auth_request_otp" in served  # fuzzed, with the local senders only
    assert "webhooks_integration_receive" in served  # fuzzed, against a configured integration


# transaction=True: the WSGI client ends each request like a server does (Django returns the
# connection to the pool), which cannot happen inside a test's enclosing transaction.
@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_the_api_honours_its_schema(case, seeded):
    _tally["cases"] += 1
    try:
        # Half the cases aim at real objects, so success paths are exercised as well as refusals.
        if case.path_parameters and _aim.random() < 0.5:
            case.path_parameters = {k: seeded.get(k, v) for k, v in case.path_parameters.items()}
        response = case.call_and_validate(checks=CHECKS)
        if response.status_code >= 400:
            content_type = {k.lower(): v for k, v in response.headers.items()}["content-type"]
            content_type = content_type[0] if isinstance(content_type, list) else content_type
            assert content_type == "application/problem+json", response.text
    except BaseException:
        _tally["failed"] += 1
        _failed_operations.add(case.operation.label)
        raise
