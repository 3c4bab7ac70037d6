"""Google Wallet behind wallet.platforms.WalletPlatform: each pass is an object at Google (a
loyaltyObject for the card, an offerObject for a coupon) of its company's class, inserted over the
Wallet REST API when the pass is issued and patched by the wallet worker when what it shows
changes; the customer saves it through a signed "Save to Google Wallet" link that names it."""

import logging
import threading
import time
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone

from wallet.errors import WalletUnavailable
from wallet.google.client import Answer, GoogleUnreachable
from wallet.google.credentials import (
    CredentialsUnusable,
    TokenRefused,
    service_account,
    service_account_or_none,
    sign,
)
from wallet.google.objects import (
    RESOURCES,
    SAVE_KEYS,
    class_body,
    message_body,
    object_body,
    object_id,
)
from wallet.google.rest import resource_path, wallet_call
from wallet.google.selectors import pass_loaded
from wallet.images import design_for, design_image_url
from wallet.models import JobKind, WalletJob, WalletPass
from wallet.platforms import JobResult

log = logging.getLogger("zupy.wallet")

SAVE_URL = "https://pay.google.com/gp/v/save/"


class GoogleRefused(Exception):
    """Google answered, but not with what was asked."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(
            f"Google Wallet answered {answer.status}" + (f": {answer.reason}" if answer.reason else "")
        )
        self.answer = answer


def _ok(answer: Answer) -> bool:
    return 200 <= answer.status < 300


# class id -> the design's updated_at that Google's class was last written from, in this process:
# a class is written once per process and again after the design changes, not on every issue.
_classes_written: dict[str, datetime] = {}


def _class_ensure(*, wallet_pass: WalletPass, logo_url: str | None) -> None:
    """Make the pass's class at Google say what the design says: insert it, or PATCH it when it
    exists (another pass, another process, or an older design wrote it)."""
    resource = RESOURCES[wallet_pass.kind][0]
    design = design_for(wallet_pass.company_id)
    body = class_body(design=design, kind=wallet_pass.kind, logo_url=logo_url)
    if design.pk is not None and _classes_written.get(body["id"]) == design.updated_at:
        return
    answer = wallet_call("POST", f"/{resource}", body)
    if answer.status == 409:
        answer = wallet_call("PATCH", resource_path(resource, body["id"]), body)
    if not _ok(answer):
        raise GoogleRefused(answer)
    if design.pk is not None:
        _classes_written[body["id"]] = design.updated_at


def _object_put(*, wallet_pass: WalletPass, now: datetime, extra: dict[str, object] | None = None) -> Answer:
    """Insert the object; if it exists (409: this pass's own earlier insert), PATCH it instead."""
    resource = RESOURCES[wallet_pass.kind][1]
    body = object_body(wallet_pass=wallet_pass, now=now) | (extra or {})
    answer = wallet_call("POST", f"/{resource}", body)
    if answer.status == 409:
        answer = wallet_call("PATCH", resource_path(resource, body["id"]), body)
    return answer


def _public_logo(company_id: str) -> str | None:
    """The logo URL for a class inserted by the worker (no request to take an origin from)."""
    base = settings.WALLET_PUBLIC_URL
    return design_image_url(company_id=company_id, base_url=base) if base else None


class GooglePlatform:
    def configured(self) -> bool:
        """WALLET_GOOGLE_ISSUER_ID is set and the service account file loads."""
        return service_account_or_none() is not None

    def issue(self, *, wallet_pass: WalletPass, base_url: str) -> None:
        """Write the company's class (``_class_ensure``) and insert the pass's object at Google,
        inside the issuing transaction: any failure raises ``WalletUnavailable`` and the pass rolls back. The
        object is named by the pass id, so one left behind by a rolled-back pass is never linked."""
        try:
            logo = design_image_url(company_id=wallet_pass.company_id, base_url=base_url)
            _class_ensure(wallet_pass=wallet_pass, logo_url=logo)
            answer = _object_put(wallet_pass=_reloaded(wallet_pass), now=timezone.now())
            if not _ok(answer):
                raise GoogleRefused(answer)
        except (CredentialsUnusable, GoogleUnreachable, GoogleRefused) as exc:
            log.warning("google wallet: pass %s not issued: %s", wallet_pass.pk, exc)
            raise WalletUnavailable("Google Wallet did not accept the pass; nothing was written.") from exc
        wallet_pass.google_object_id = object_id(wallet_pass)
        WalletPass.objects.filter(pk=wallet_pass.pk).update(google_object_id=wallet_pass.google_object_id)

    def pass_url(self, *, wallet_pass: WalletPass, base_url: str) -> str:
        """The "Save to Google Wallet" link: a JWT signed with the service account's key that names
        the pass's object (inserted at issue), so the link carries no customer data."""
        try:
            account = service_account()
        except CredentialsUnusable as exc:
            raise WalletUnavailable("Google Wallet is not configured on this server.") from exc
        claims = {
            "iss": account.client_email,
            "aud": "google",
            "typ": "savetowallet",
            "iat": int(time.time()),
            "origins": list(settings.WALLET_GOOGLE_ORIGINS),
            "payload": {SAVE_KEYS[wallet_pass.kind]: [{"id": object_id(wallet_pass)}]},
        }
        return SAVE_URL + sign(account, claims)

    def job_run(self, *, job: WalletJob) -> JobResult:
        """google_sync: PATCH the object to what the pass shows now; google_message: add the pass's
        latest message. An object Google does not have (404) is inserted whole (with the message).
        429 and 5xx are retried (Retry-After honoured); other answers are errors.

        Reads the pass as it is now (several queued changes: each job sends the latest). On a
        worker's sender thread those reads open the thread's own connection, closed here: the
        thread ends after its one job."""
        try:
            return _job_send(job)
        finally:
            if threading.current_thread() is not threading.main_thread():
                connection.close()


def _job_send(job: WalletJob) -> JobResult:
    wallet_pass = pass_loaded(job.wallet_pass_id)
    if wallet_pass is None:
        return JobResult(ok=False, gone=True, error="the pass no longer exists")
    now = timezone.now()
    resource = RESOURCES[wallet_pass.kind][1]
    path_id = object_id(wallet_pass)
    try:
        if job.kind == JobKind.GOOGLE_MESSAGE:
            message = message_body(wallet_pass=wallet_pass, message_id=job.pk)
            answer = wallet_call("POST", resource_path(resource, path_id, "addMessage"), {"message": message})
            extra: dict[str, object] = {"messages": [message]}
        else:
            body = object_body(wallet_pass=wallet_pass, now=now)
            answer = wallet_call("PATCH", resource_path(resource, path_id), body)
            extra = {}
        if answer.status == 404:
            _class_ensure(wallet_pass=wallet_pass, logo_url=_public_logo(wallet_pass.company_id))
            answer = _object_put(wallet_pass=wallet_pass, now=now, extra=extra)
    except CredentialsUnusable as exc:
        return JobResult(ok=False, error=f"google wallet not configured: {exc}")
    except GoogleRefused as exc:
        return _result(exc.answer)
    except TokenRefused as exc:
        return JobResult(ok=False, status_code=exc.status, error=f"google wallet: {exc}")
    except GoogleUnreachable as exc:
        return JobResult(ok=False, error=f"google wallet: no answer ({exc})")
    return _result(answer)


def _result(answer: Answer) -> JobResult:
    if _ok(answer):
        return JobResult(ok=True, status_code=answer.status)
    error = f"google wallet answered {answer.status}" + (f": {answer.reason}" if answer.reason else "")
    if answer.status == 429 or answer.status >= 500:
        return JobResult(ok=False, status_code=answer.status, error=error, retry_after=answer.retry_after)
    return JobResult(ok=False, status_code=answer.status, error=error)


def _reloaded(wallet_pass: WalletPass) -> WalletPass:
    """The just-inserted pass with what its object shows (customer, coupon, reward, program)."""
    loaded = pass_loaded(wallet_pass.pk)
    assert loaded is not None  # inserted in this transaction
    return loaded


GOOGLE = GooglePlatform()
