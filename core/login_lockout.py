"""The admin login lockout (django-axes), made to hold when many attempts arrive at once.

axes reads a client's failure count before the password is checked and records the failure after:
thirty wrong passwords sent in parallel all read "no failures yet", all have their password
checked, and the lockout comes after them. So every attempt here first takes a slot in an atomic
count of the client's attempts in flight (the Django cache's ``incr``: Redis, or
``core.cache.DatabaseCache``, whose increment holds the row), and only then reads the recorded
failures. It is refused like a locked-out attempt (429) when failures plus attempts in flight,
itself included, would pass ``AXES_FAILURE_LIMIT``; otherwise its password is checked.

A slot is given back when the attempt's failure has been recorded (``LockoutHandler``), or at once
when the password was right, so an attempt is always counted, in flight or as a failure: one that
reads the failures after taking its slot sees every other attempt in one place or the other. At
most ``AXES_FAILURE_LIMIT`` passwords are checked however many attempts run together.

The client is what axes locks out (``AXES_LOCKOUT_PARAMETERS``: a username from one address), with
axes' own keys. Without the cache (Redis down) attempts go on with axes' check alone: the admin
stays reachable, as the API's rate limit stays open.
"""

import logging
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.conf import settings
from axes.exceptions import AxesBackendPermissionDenied
from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_cache_keys, get_credentials, get_failure_limit, get_lockout_message
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.http import HttpRequest

log = logging.getLogger("core.login_lockout")

# Far longer than one password check: the slot of an attempt whose process died lapses after this.
IN_FLIGHT_SECONDS = 300
_SLOTS = "zupy_login_slots"  # the request attribute that holds the keys of the slots it took


def _slot_keys(request: HttpRequest, credentials: dict[str, Any]) -> list[str]:
    return [f"login-in-flight:{key}" for key in get_client_cache_keys(request, credentials)]


def _increment(key: str) -> int:
    """Add one to the count at ``key``, atomically; the count after."""
    while True:
        if cache.add(key, 1, IN_FLIGHT_SECONDS):
            return 1
        try:
            count = int(cache.incr(key))
        except ValueError:  # it lapsed between add and incr: add again
            continue
        cache.touch(key, IN_FLIGHT_SECONDS)
        return count


def slots_give_back(request: HttpRequest) -> None:
    for key in getattr(request, _SLOTS, ()):
        try:
            cache.decr(key)
        except ValueError:
            pass  # lapsed: nothing to give back
        except Exception as exc:
            log.warning("login lockout: cache unavailable, slot %s left to lapse: %s", key, exc)
    setattr(request, _SLOTS, ())


def _slot_take(request: HttpRequest, credentials: dict[str, Any]) -> bool:
    """Take this attempt's slot; False (nothing taken) if failures plus attempts in flight would
    pass the limit."""
    keys = _slot_keys(request, credentials)
    try:
        in_flight = max(_increment(key) for key in keys)
    except Exception as exc:
        log.warning("login lockout: cache unavailable, axes' own check only: %s", exc)
        return True
    setattr(request, _SLOTS, keys)
    try:
        # Read after the increment (see the module docstring): an attempt that has given its slot
        # back has recorded its failure first.
        failures = AxesProxyHandler.get_failures(request, credentials)
    except BaseException:
        slots_give_back(request)
        raise
    if failures + in_flight > get_failure_limit(request, credentials):
        slots_give_back(request)
        return False
    return True


class LockoutBackend(AxesStandaloneBackend, ModelBackend):
    """axes' check, a slot among the client's attempts in flight, then Django's password check
    (``ModelBackend``, which also answers for sessions and permissions)."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if not settings.AXES_ENABLED or request is None:
            return ModelBackend.authenticate(self, request, username=username, password=password, **kwargs)
        super().authenticate(request, username=username, password=password, **kwargs)  # raises if locked
        credentials = get_credentials(username=username, password=password, **kwargs)
        whitelisted = AxesProxyHandler.get_implementation().is_whitelisted(request, credentials)
        if not whitelisted and not _slot_take(request, credentials):
            kwargs.get("response_context", {})["error"] = get_lockout_message()
            request.axes_locked_out = True  # type: ignore[attr-defined]  # AxesMiddleware: 429
            raise AxesBackendPermissionDenied("Too many login attempts in flight for this client")
        try:
            user = ModelBackend.authenticate(self, request, username=username, password=password, **kwargs)
        except BaseException:
            slots_give_back(request)
            raise
        if user is not None:
            slots_give_back(request)
        # None: Django sends user_login_failed, and LockoutHandler gives the slot back once axes has
        # recorded the failure.
        return user


class LockoutHandler(AxesDatabaseHandler):
    """axes' database handler (attempts, failure logs, ``axes_reset``), giving an attempt's slot
    back only after its failure is recorded."""

    def user_login_failed(
        self, sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
    ) -> None:
        try:
            super().user_login_failed(sender, credentials, request, **kwargs)
        finally:
            if request is not None:
                slots_give_back(request)
