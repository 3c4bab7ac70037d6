"""KSUIDs for every id the API exposes: 27 base62 characters, sortable by creation time.

The millisecond flavour, made monotonic within a process (like monotonic ULIDs): an id created in
the same 4 ms tick as the previous one is the previous one plus one, so rows created by one process
keep their creation order and "newest first" is just ``ORDER BY id DESC``, with a keyset cursor
that is a single id. Ids from different processes in the same tick order at random, which no
feature depends on.
"""

import re
import threading

from ksuid import KsuidMs

KSUID_RE = re.compile(r"^[0-9A-Za-z]{27}\Z")

_lock = threading.Lock()
_last = 0
_MAX = (1 << 160) - 1


_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # KSUID's digits


def base62_27(value: int) -> str:
    """``value`` (160 bits) as KSUID's 27 base62 digits, zero-padded: what ``str(KsuidMs)`` gives
    (tests/core/test_ids.py compares them), without the library's generic base converter, which is
    far slower per id (docs/benchmark.md), and every write makes ids."""
    digits = []
    for _ in range(27):
        value, digit = divmod(value, 62)
        digits.append(_BASE62[digit])
    return "".join(reversed(digits))


def new_id() -> str:
    global _last
    candidate = int.from_bytes(bytes(KsuidMs()), "big")
    with _lock:
        if candidate <= _last and _last < _MAX:
            candidate = _last + 1
        _last = candidate
    return base62_27(candidate)


def is_ksuid(value: str) -> bool:
    return bool(KSUID_RE.match(value))


class PathIdConverter:
    """``<id:name>`` in URL patterns: the characters of a KSUID or a coupon code as a till may type
    it (``cz abcd-2345``: any case, spaces), at most 64 of them. Anything else does not match, so
    the URL answers 404."""

    regex = "[0-9A-Za-z -]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
