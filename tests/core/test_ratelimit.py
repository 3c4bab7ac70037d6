"""The one fixed-window counter: counts per scope and window on every cache backend, and does what its
caller chose when the cache is down."""

import uuid
from typing import Any

import pytest
from django.core.cache import cache

from core.ratelimit import CounterUnavailable, Window, window_hit


def on_real_redis(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("core.ratelimit._clients", {})
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/0",
            "KEY_PREFIX": f"zupy-test-{uuid.uuid4().hex}",
        }
    }


@pytest.fixture(params=["locmem", "redis"])
def backend(request: pytest.FixtureRequest, settings: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "redis":
        on_real_redis(settings, monkeypatch)
    return str(request.param)


def test_hits_are_counted_per_scope_in_the_current_window(backend):
    scope = f"t-{uuid.uuid4().hex}"
    counts = [window_hit(scope, window=600, fail_open=False).count for _ in range(3)]
    other = window_hit(scope + "-other", window=600, fail_open=False)
    assert (counts, other.count) == ([1, 2, 3], 1)
    assert 1 <= other.reset <= 600


def test_a_counter_evicted_between_add_and_incr_starts_again(monkeypatch):
    """The portable path adds the key, then increments it: a key gone in between is this hit's."""
    real_add = cache.add

    def add_then_evict(key: str, *args: Any, **kwargs: Any) -> bool:
        real_add(key, *args, **kwargs)
        return cache.delete(key)

    monkeypatch.setattr(cache, "add", add_then_evict)
    assert window_hit(f"t-{uuid.uuid4().hex}", window=600, fail_open=False).count == 1


@pytest.mark.django_db
def test_failing_open_lets_the_hit_through_uncounted_and_logs_it(redis_down, caplog):
    hit = window_hit("zupy:rl:key", window=60, fail_open=True)
    assert hit.count is None and not hit.exceeds(0)
    assert "counter unavailable, hit not counted (zupy)" in caplog.text


@pytest.mark.django_db
def test_failing_closed_raises(redis_down):
    with pytest.raises(CounterUnavailable) as raised:
        window_hit("otp-rate:+5511999990000", window=600, fail_open=False)
    assert raised.value.__cause__ is not None
    assert "+5511999990000" not in str(raised.value)


@pytest.mark.parametrize(("count", "limit", "over"), [(3, 3, False), (4, 3, True), (None, 0, False)])
def test_a_window_exceeds_its_limit_only_past_it(count, limit, over):
    assert Window(count=count, reset=1).exceeds(limit) is over
