"""The router's rules one by one, in process (tests/ha/test_replica_reads.py proves them through HTTP
against a real streaming pair): here the replica's lag is given, not measured."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import router, transaction
from django.test import override_settings

from core import dbrouter
from core.dbrouter import replica_note_write, replica_reads
from customers.models import Customer


class _CacheEntry:
    class _meta:  # as Django's DatabaseCache names its table's model
        app_label = "django_cache"


@pytest.fixture
def replica(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A configured replica whose lag the test sets (None: unreachable)."""
    state: dict[str, Any] = {"lag": 0.0}
    monkeypatch.setattr(dbrouter, "replica_lag", lambda: state["lag"])
    monkeypatch.setattr(dbrouter, "replica_configured", lambda: True)
    settings.DB_REPLICA_MAX_LAG = 2.0
    settings.DB_REPLICA_READ_YOUR_WRITES_SECONDS = 5.0
    with override_settings(DATABASE_ROUTERS=["core.dbrouter.ReplicaRouter"]):
        yield state


def _read(writer: str | None = None) -> str:
    with replica_reads(writer=writer):
        return router.db_for_read(Customer)


def _reads(state: dict[str, Any], lag: float | None, writer: str | None = None) -> str:
    state["lag"] = lag
    return _read(writer)


def test_outside_a_replica_view_every_read_is_the_primarys(replica):
    assert dbrouter.ReplicaRouter().db_for_read(Customer) is None  # Django's default: the primary


def test_a_replica_view_reads_the_replica_within_the_bound_and_the_primary_past_it(replica):
    assert _reads(replica, 0.0) == "replica"
    assert _reads(replica, 2.0) == "replica"
    assert _reads(replica, 2.5) == "default"
    assert _reads(replica, None) == "default"  # not reachable, or not a standby


@pytest.mark.django_db
def test_inside_a_transaction_reads_are_the_primarys(replica):
    with replica_reads(writer=None), transaction.atomic():
        assert router.db_for_read(Customer) == "default"


def test_the_database_cache_is_never_read_from_the_replica(replica):
    with replica_reads(writer=None):
        assert dbrouter.ReplicaRouter().db_for_read(_CacheEntry) is None


def test_a_key_that_wrote_reads_the_primary_and_another_key_does_not(replica):
    replica_note_write(writer="key-a")
    assert _read("key-a") == "default"
    assert _read("key-b") == "replica"


def test_writes_and_locking_reads_are_the_primarys(replica):
    with replica_reads(writer=None):
        assert router.db_for_write(Customer) == "default"
        assert Customer.objects.select_for_update().db == "default"
        assert Customer.objects.all().db == "replica"


def test_a_cache_that_cannot_be_read_sends_the_key_to_the_primary(replica, monkeypatch):
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache down")

    monkeypatch.setattr(dbrouter.cache, "get", broken)
    assert _read("key-c") == "default"
    assert _read(None) == "replica"  # no key, no mark to read
