"""What every transactional outbox here shares (webhook deliveries, wallet jobs): claiming due rows
under a lease, and recording an error in a column."""

import secrets
from datetime import timedelta
from typing import Any

from django.db import models, transaction
from django.db.models import F, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone


def outbox_claim(
    model: type[models.Model], *, pending: str, limit: int, per_company: int, lease_seconds: float
) -> tuple[list[Any], str]:
    """Lease up to ``limit`` due rows of ``model`` (status ``pending``, ``next_attempt_at`` past, no
    live lease): oldest first, at most ``per_company`` of one company, so one company's backlog or
    dead receiver costs the others at most that many attempts per batch. Answers the leased ids,
    oldest first, and the lease token that proves the claim when the attempt is recorded.

    Locks the candidate rows (SELECT ... FOR UPDATE SKIP LOCKED) only for this short transaction,
    sets their lease and commits: no lock is held while sending, and two workers never claim the
    same row. The UPDATE repeats the "due and not leased" condition, so the claim is exclusive
    without row locks too (SQLite)."""
    now = timezone.now()
    token = secrets.token_hex(16)
    due = model._default_manager.filter(status=pending, next_attempt_at__lte=now).filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=now)
    )
    firsts_of_each_company = (
        due.annotate(
            rank=Window(RowNumber(), partition_by=[F("company_id")], order_by=[F("next_attempt_at"), F("id")])
        )
        .filter(rank__lte=per_company)
        .values("pk")
    )
    with transaction.atomic():
        ids = list(
            due.select_for_update(skip_locked=True)
            .filter(pk__in=firsts_of_each_company)
            .order_by("next_attempt_at", "id")
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            due.filter(pk__in=ids).update(lease=token, locked_until=now + timedelta(seconds=lease_seconds))
    return ids, token


def error_text(exc: BaseException) -> str:
    """What went wrong, fit for a CharField: printable (PostgreSQL refuses NUL) and bounded."""
    text = f"{type(exc).__name__}: {exc}"
    return "".join(c if c.isprintable() else "?" for c in text)[:500]
