"""Idempotency-Key: a POS that retries a POST after a timeout never spends points twice.

Same key and same request (method, path, body) within 24 hours: the first answer is replayed byte
for byte with ``Idempotent-Replayed: true``. Same key, different request: 422
``idempotency_key_reused``. Same key while the first request still runs: 409
``idempotency_key_in_flight``. Answers that come before the operation starts (authentication,
a malformed or invalid body) and server errors are not stored, so a fixed request can reuse the key.
"""

import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.http import HttpResponse, HttpResponseBase
from django.utils import timezone

from core.db import one_or_none
from core.errors import Conflict, DomainError, ValidationFailed
from core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
TTL = timedelta(hours=24)
KEY_RE = re.compile(r"[\x21-\x7e]{1,255}")


class IdempotencyKeyReused(ValidationFailed):
    code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was used with a different request."


class IdempotencyKeyInFlight(Conflict):
    code = "idempotency_key_in_flight"
    default_detail = "A request with this Idempotency-Key is still being processed. Retry shortly."


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _scalar_text(value: Any) -> Any:
    """A parsed body's value as a form would carry it: text (a list of one is its one item)."""
    if isinstance(value, dict):
        return {str(key): _scalar_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return _scalar_text(value[0]) if len(value) == 1 else [_scalar_text(item) for item in value]
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return value


def data_fingerprint(method: str, path: str, data: Any) -> str:
    """The fingerprint of a request by its parsed body, so that equal data is the same request
    whichever way it was sent: JSON or a form (whose values are all text), keys in any order, any
    spacing. ``{"amount": 5}`` and ``amount=5`` are one request; a retry with other values is not."""
    canonical = json.dumps(_scalar_text(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return request_fingerprint(method, path, canonical.encode())


def check_key(key: str) -> str:
    if not KEY_RE.fullmatch(key):  # fullmatch: "$" would let a trailing newline through
        raise ValidationFailed(
            "Invalid Idempotency-Key.",
            errors=[{"field": HEADER, "detail": "1 to 255 visible ASCII characters (a UUID is a good key)."}],
        )
    return key


def advisory_lock_id(company_id: str, key: str) -> int:
    """A signed 64-bit lock id for (company, key)."""
    value = int.from_bytes(hashlib.sha256(f"{company_id}\n{key}".encode()).digest()[:8], "big")
    return value - (1 << 63)


def _lock_or_refuse(company_id: str, key: str) -> None:
    """Hold a transaction-scoped advisory lock on (company, key), or refuse at once if another request
    holds it. SQLite needs none: its IMMEDIATE transactions already run one at a time.

    Transaction-scoped, not a session lock with ``pg_advisory_unlock`` in a ``finally``: PostgreSQL
    frees it at the very commit that makes the stored answer visible (the outermost one, should this
    block be nested), so a retry cannot slip in between an unlock and that commit and run the
    operation twice; a rollback frees it as well. A session lock whose unlock is missed on some path
    stays on the pooled or persistent connection and refuses the key until that connection closes."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [advisory_lock_id(company_id, key)])
        if not cursor.fetchone()[0]:
            raise IdempotencyKeyInFlight()


def _storable(exc: Exception) -> bool:
    """Domain refusals are answers of the operation; body-shape errors (no code) come before it."""
    return (
        isinstance(exc, DomainError)
        and exc.status in (404, 409, 422)
        and (exc.code is not None or exc.status == 404)
    )


def replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(bytes(record.body), status=record.status_code, content_type=record.content_type)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(
    *,
    company_id: str,
    key: str,
    fingerprint: str,
    call: Callable[[], HttpResponseBase],
    also_matches: str = "",
    on_refusal: Callable[[Exception], HttpResponseBase],
    render: Callable[[HttpResponseBase], bytes],
) -> HttpResponseBase:
    """Run ``call`` once per (company, key) and store its rendered answer in the same transaction.
    ``fingerprint`` is stored; a stored record with ``also_matches`` instead is the same request too
    (the raw bytes' fingerprint: the same bytes are always the same request)."""
    now = timezone.now()
    with transaction.atomic():
        _lock_or_refuse(company_id, key)
        record = one_or_none(IdempotencyRecord.objects.filter(company_id=company_id, key=key))
        if record is not None and record.expires_at <= now:
            record.delete()
            record = None
        if record is not None:
            if record.fingerprint not in (fingerprint, also_matches or fingerprint):
                raise IdempotencyKeyReused()
            return replay(record)
        try:
            response = call()
        except Exception as exc:
            if not _storable(exc):
                raise
            response = on_refusal(exc)
        if response.status_code >= 500:
            return response
        body = render(response)
        IdempotencyRecord.objects.create(
            company_id=company_id,
            key=key,
            fingerprint=fingerprint,
            status_code=response.status_code,
            content_type=response["Content-Type"],
            body=body,
            expires_at=now + TTL,
        )
    return response


def idempotency_purge(*, now: object = None) -> int:
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
