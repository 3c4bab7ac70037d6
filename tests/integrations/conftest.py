from collections.abc import Iterator
from typing import Any

import pytest

from companies.models import Company
from integrations.models import Adapter, Integration
from integrations.services import integration_configure
from tests.conftest import Api
from tests.factories import CompanyFactory, make_key
from tests.webhooks.conftest import Receiver
from webhooks.services import webhook_configure


@pytest.fixture
def shop() -> Company:
    return CompanyFactory.create()


@pytest.fixture
def partner(shop: Company) -> Api:
    return Api(make_key(shop))


@pytest.fixture
def repediu(shop: Company) -> Integration:
    return integration_configure(company=shop, slug="repediu", name="Repediu", adapter=Adapter.REPEDIU)[0]


@pytest.fixture
def generic(shop: Company) -> Integration:
    return integration_configure(company=shop, slug="my-pos", adapter=Adapter.GENERIC)[0]


@pytest.fixture
def events(settings: Any, shop: Company) -> Iterator[Receiver]:
    """A loopback receiver subscribed to the shop's points.earned events."""
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_RETRY_DELAYS = [0.0, 0.0, 0.0]
    settings.WEBHOOK_TIMEOUT = 1.0
    server = Receiver()
    webhook_configure(company=shop, url=server.url, events=["points.earned"])
    yield server
    server.shutdown()
