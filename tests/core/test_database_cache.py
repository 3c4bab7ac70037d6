"""The database cache (the default without CACHE_URL) counts exactly when many threads, each with its
own connection, increment one key at once: its incr holds the row between read and write."""

from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.db import connection

from core.cache import DatabaseCache
from tests.conftest import run_together

TABLE = "zupy_cache_under_test"


@pytest.fixture
def db_cache(transactional_db: None) -> Iterator[DatabaseCache]:
    call_command("createcachetable", TABLE, verbosity=0)
    yield DatabaseCache(TABLE, {})
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {TABLE}")


def test_concurrent_increments_are_never_lost(db_cache):
    db_cache.add("hits", 0, timeout=60)

    def bump_ten_times() -> list[int]:
        return [db_cache.incr("hits") for _ in range(10)]

    results = run_together(16, bump_ten_times)

    assert not [r for r in results if isinstance(r, Exception)], results
    seen = sorted(n for counts in results for n in counts)
    assert seen == list(range(1, 161)), "every increment saw its own count"
    assert db_cache.get("hits") == 160


def test_incr_of_a_missing_key_is_a_value_error_as_django_documents(db_cache):
    with pytest.raises(ValueError):
        db_cache.incr("never-added")
