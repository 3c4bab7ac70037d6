"""The wallet worker's side of the outbox (``WalletJob``): claim due jobs under a lease, send each
through its platform, record what came of it. The webhook worker's pattern (webhooks/services.py):
no lock or transaction is open during a network call, each job is its own attempt (one dead device
never holds up the others), retries follow ``WALLET_RETRY_DELAYS``, and every attempt ends within
``WALLET_TIMEOUT``."""

import logging
import queue
import threading
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.db import one_or_none
from core.outbox import error_text, outbox_claim
from wallet.models import AppleRegistration, JobKind, JobStatus, WalletJob, WalletPass
from wallet.platforms import JobResult, platform

logger = logging.getLogger(__name__)

# How many jobs one claim leases, and how many of them may be one company's: a company pushing to
# thousands of devices still leaves room in every batch for the others.
BATCH_SIZE = 20
PER_COMPANY = 10
# How long the worker's thread waits for the batch's sends at a time: it must come back to Python
# regularly, because that is the only thread that runs the worker's SIGTERM handler.
_WAIT_SLICE = 0.2


def _lease_seconds() -> float:
    """Every attempt of a batch ends within WALLET_TIMEOUT (the batch stops waiting then) and the
    results are recorded after: twice that and a margin, so a live worker never outlasts its lease
    and a dead one's jobs are due again soon."""
    return float(2 * settings.WALLET_TIMEOUT + 30)


def wallet_jobs_claim(*, limit: int = BATCH_SIZE) -> list[WalletJob]:
    """Lease up to ``limit`` due jobs, oldest first, at most ``PER_COMPANY`` of one company
    (``core.outbox.outbox_claim``: no lock is held while sending, no job is claimed twice)."""
    ids, token = outbox_claim(
        WalletJob,
        pending=JobStatus.PENDING,
        limit=limit,
        per_company=PER_COMPANY,
        lease_seconds=_lease_seconds(),
    )
    return list(
        WalletJob.objects.filter(pk__in=ids, lease=token)
        .select_related("wallet_pass", "registration__device")
        .order_by("next_attempt_at", "id")
    )


def _skip(job: WalletJob) -> JobResult | None:
    """Why a job needs no send at all: its device unregistered since it was queued."""
    if job.kind == JobKind.APPLE_PUSH and (job.registration is None or job.registration.unregistered_at):
        return JobResult(ok=False, gone=True, error="not sent: the device unregistered from the pass")
    return None


def _send(job: WalletJob) -> JobResult:
    """Send through the job's platform (no database: this runs on a sender thread). Never raises."""
    try:
        return _skip(job) or platform(job.wallet_pass.platform).job_run(job=job)
    except Exception as exc:
        logger.exception("wallet job %s (%s): attempt failed unexpectedly", job.pk, job.kind)
        return JobResult(ok=False, error=error_text(exc))


def _record(*, job: WalletJob, result: JobResult) -> WalletJob:
    """Record an attempt in its own transaction. Locks the job row, and updates it only if the
    lease is still this worker's (else another worker owns it now and its attempt counts). A push
    that APNs says went to a dead token (``gone``) drops the job and ends the registration, in the
    same transaction; a delivered push stamps the registration's ``last_push_at``. The registration
    is updated without a lock, by one UPDATE whose condition is re-read by the database: a device
    that the PassKit web service registered again meanwhile (a new token) is left as it made it."""
    now = timezone.now()
    with transaction.atomic():
        row = one_or_none(WalletJob.objects.select_for_update().filter(pk=job.pk, lease=job.lease))
        if row is None:
            logger.warning("wallet job %s: lease lost during the attempt; not updating the row", job.pk)
            return job
        row.lease, row.locked_until = "", None
        row.attempts += 1
        row.last_status_code = result.status_code
        row.last_error = result.error
        delays = settings.WALLET_RETRY_DELAYS
        registrations = AppleRegistration.objects.filter(pk__in=[row.registration_id])
        if result.ok:
            row.status, row.done_at = JobStatus.SUCCEEDED, now
            if row.kind == JobKind.APPLE_PUSH:
                registrations.update(last_push_at=now)
            _installed_note(wallet_pass_id=row.wallet_pass_id, installed=result.installed, now=now)
            outcome = "sent"
        elif result.gone:
            row.status, row.done_at = JobStatus.DROPPED, now
            if row.kind == JobKind.APPLE_PUSH and job.registration is not None:
                # Only while the device still has the token that was refused: a device that
                # registered again with a new token in the meantime keeps its registration.
                registrations.filter(
                    unregistered_at__isnull=True, device__push_token=job.registration.device.push_token
                ).update(unregistered_at=now)
            outcome = "dropped"
        elif row.attempts > len(delays):
            row.status, row.done_at = JobStatus.EXHAUSTED, now
            outcome = "exhausted"
        else:
            delay = max(delays[row.attempts - 1], result.retry_after or 0.0)
            row.next_attempt_at = now + timedelta(seconds=delay)
            outcome = f"retry in {delay:g}s"
        row.save()
    log = logger.info if result.ok or result.gone else logger.warning
    log(
        "wallet job %s (%s, pass %s): attempt %d %s%s",
        row.pk,
        row.kind,
        row.wallet_pass_id,
        row.attempts,
        outcome,
        f": {result.error}" if result.error else "",
    )
    return row


def wallet_job_attempt(*, job: WalletJob) -> WalletJob:
    """Make one attempt of a leased job and record it; any failure is the attempt's result."""
    return _record(job=job, result=_send(job))


def _release(jobs: list[WalletJob]) -> None:
    """Give leases back unattempted (the worker is stopping before their results came in): the
    jobs are due again at once for the next worker, with all of their retries left."""
    for job in jobs:
        WalletJob.objects.filter(pk=job.pk, lease=job.lease).update(lease="", locked_until=None)


def wallet_deliver_batch(*, limit: int = BATCH_SIZE, stop: threading.Event | None = None) -> int:
    """Claim a batch and attempt each job in it side by side; return how many attempts were
    recorded.

    The database is read and written on this thread only; sender threads only send. An attempt
    still running ``WALLET_TIMEOUT`` seconds after the batch started is recorded as failed (its
    thread is left to finish on the client's own timeouts, its answer ignored), so one stalled call
    delays the batch by at most that. Setting ``stop`` (SIGTERM) gives the unfinished jobs' leases
    back, uncounted: the next worker sends them again (a push twice is harmless: the device only
    asks what changed). Senders are daemon threads, so a stopping worker never waits for them."""
    claimed = wallet_jobs_claim(limit=limit)
    if not claimed:
        return 0
    if stop is not None and stop.is_set():
        _release(claimed)
        return 0
    deadline = time.monotonic() + settings.WALLET_TIMEOUT
    results: queue.Queue[tuple[WalletJob, JobResult]] = queue.Queue()
    for job in claimed:
        threading.Thread(
            target=lambda job=job: results.put((job, _send(job))), name=f"wallet-send-{job.pk}", daemon=True
        ).start()
    pending = {job.pk: job for job in claimed}
    made = 0
    while pending:
        if stop is not None and stop.is_set():
            _release(list(pending.values()))
            break
        if time.monotonic() >= deadline:
            late = JobResult(ok=False, error=f"deadline: no answer within {settings.WALLET_TIMEOUT:g}s")
            for job in pending.values():
                made += _record_safely(job, late)
            break
        try:
            job, result = results.get(timeout=_WAIT_SLICE)
        except queue.Empty:
            continue
        del pending[job.pk]
        made += _record_safely(job, result)
    return made


def _installed_note(*, wallet_pass_id: str, installed: bool | None, now: datetime) -> None:
    """What the platform said of the pass's holders: ``added_at`` is the first time it was seen in
    a wallet, ``removed_at`` the time it was first seen gone since (cleared if it comes back). One
    conditional UPDATE each, so two workers' answers cannot undo each other's."""
    if installed is None:
        return
    passes = WalletPass.objects.filter(pk=wallet_pass_id)
    if installed:
        passes.filter(added_at__isnull=True).update(added_at=now)
        passes.filter(removed_at__isnull=False).update(removed_at=None)
    else:
        passes.filter(added_at__isnull=False, removed_at__isnull=True).update(removed_at=now)


def _record_safely(job: WalletJob, result: JobResult) -> int:
    try:
        _record(job=job, result=result)
    except Exception:
        # Recording failed (the database went away?): the lease runs out and the job is tried
        # again; the rest of the batch still gets its turn.
        logger.exception("wallet job %s: could not record the attempt", job.pk)
    return 1
