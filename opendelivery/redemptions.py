"""``createLoyaltyRedemption`` and ``useLoyaltyCoupon``: the surface's two writes of the coupon
lifecycle, carried out by the coupons app's own services (``coupon_redeem``, ``coupon_validate``),
so there is one way to move points and one way to use a coupon.

A redemption is accepted in the request (every refusal ``coupon_redeem`` would give is checked
then, against the balance and stock left after the redemptions already accepted), answered 202
with its ``correlationId`` (``OdRedemption.id``) and issued by the worker
(``od_redemptions_process_due``), which records the coupon, or the refusal when the balance moved
meanwhile, in the transaction that issues it."""

import hashlib
import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from companies.models import Company
from core.errors import DomainError
from core.idempotency import KEY_RE
from core.ids import is_ksuid
from core.outbox import error_text, outbox_claim
from coupons.errors import CouponUsed
from coupons.lock_objects import coupon_lock_for_use
from coupons.models import Coupon
from coupons.selectors import coupon_holder
from coupons.services import Held, coupon_redeem, coupon_validate, redemption_terms
from customers.lock_objects import customer_lock
from customers.selectors import customer_get
from opendelivery.errors import (
    AccountNotFound,
    AccountSuspended,
    CouponNotFound,
    CouponUsedForAnotherOrder,
    CouponUseRefused,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    QuantityNotSupported,
    RedemptionRefused,
    RewardNotFound,
)
from opendelivery.models import OdClient, OdCouponUse, OdRedemption, RedemptionStatus
from otp.policy import otp_session_check
from rewards.lock_objects import reward_lock

log = logging.getLogger(__name__)

# The worker's batch: redemptions claimed at once, at most this many of one company, each leased this
# long (one redemption is one short transaction; an expired lease lets another worker take it).
CLAIM_LIMIT = 50
CLAIM_PER_COMPANY = 10
LEASE_SECONDS = 60.0
# A redemption the database would not process (not a refusal: those are final) is tried again after
# RETRY_SECONDS times its attempts, at most MAX_ATTEMPTS times, then recorded refused.
RETRY_SECONDS = 5
MAX_ATTEMPTS = 10
# OpenDelivery's LoyaltyRedemptionRequest carries no Z$ choice: its redemptions are paid in points.
USE_Z_TOKENS = False

# The redemption whose coupon is being issued in this thread, while coupon_redeem runs: its
# ``reward.redeemed`` event is published before the coupon is recorded on the redemption.
_issuing: ContextVar[uuid.UUID | None] = ContextVar("od_redemption_issuing", default=None)


def od_redemption_key(
    *, idempotency_key: str | None, customer_id: str, reward_id: str, related_order_id: str
) -> str:
    """``OdRedemption.request_key``: the client's Idempotency-Key (as a digest: a key may be longer
    than the column), or, without one, the request itself when it names a ``relatedOrderId``;
    empty (every request a new redemption) when it gives neither."""
    if idempotency_key is not None:
        if not KEY_RE.fullmatch(idempotency_key):
            raise IdempotencyKeyInvalid(field="Idempotency-Key")
        return "key:" + hashlib.sha256(idempotency_key.encode()).hexdigest()
    if related_order_id:
        request = "\n".join((customer_id, reward_id, related_order_id))
        return "order:" + hashlib.sha256(request.encode()).hexdigest()
    return ""


def _same_request(
    redemption: OdRedemption, *, customer_id: str, reward_id: str, related_order_id: str
) -> OdRedemption:
    """The redemption a retry names, or 409 if the key was given to another request."""
    if (redemption.customer_id, redemption.reward_id, redemption.related_order_id) != (
        customer_id,
        reward_id,
        related_order_id,
    ):
        raise IdempotencyKeyReused()
    return redemption


def _accepted_before(*, client: OdClient, company: Company, request_key: str) -> OdRedemption | None:
    if not request_key:
        return None
    return OdRedemption.objects.filter(client=client, company=company, request_key=request_key).first()


def od_redemption_request(
    *,
    client: OdClient,
    company: Company,
    account_id: str,
    reward_id: str,
    quantity: int = 1,
    related_order_id: str = "",
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> OdRedemption:
    """Accept a redemption of ``reward_id`` by the account (the customer) ``account_id``, or refuse
    it as ``coupon_redeem`` would now: 400 for an account or reward the company does not have, 409
    for a reward it cannot have (not affordable, out of stock, inactive, limit reached, OTP).

    A retry (the same ``request_key``: ``od_redemption_key``) answers the redemption accepted first,
    whatever became of it, and accepts nothing new.

    Locks the Customer row, then the Reward row (``customer_lock``, ``reward_lock``: the order
    ``coupon_redeem`` takes them in), so that acceptances for one customer or one reward serialise
    and each sees the redemptions accepted before it (``Held``): what is accepted is affordable
    together. A retry racing its first request waits on the customer lock (the same customer) or on
    the ``od_redemption_once`` index (another one), then finds the first one's row."""
    if quantity != 1:
        raise QuantityNotSupported(field="quantity")
    request_key = od_redemption_key(
        idempotency_key=idempotency_key,
        customer_id=account_id,
        reward_id=reward_id,
        related_order_id=related_order_id,
    )
    same = {"customer_id": account_id, "reward_id": reward_id, "related_order_id": related_order_id}
    before = _accepted_before(client=client, company=company, request_key=request_key)
    if before is not None:
        return _same_request(before, **same)
    if not is_ksuid(account_id):
        raise AccountNotFound(field="accountId")
    if not is_ksuid(reward_id):
        raise RewardNotFound(field="rewardId")
    now = timezone.now()
    with transaction.atomic():
        customer = customer_lock(company_id=company.pk, customer_id=account_id)
        if customer is None:
            raise AccountNotFound(field="accountId")
        if not customer.is_active:
            raise AccountSuspended()
        reward = reward_lock(company_id=company.pk, reward_id=reward_id)
        if reward is None:
            raise RewardNotFound(field="rewardId")
        before = _accepted_before(client=client, company=company, request_key=request_key)
        if before is not None:
            return _same_request(before, **same)
        try:
            otp_session_check(company=company, customer_id=customer.pk, action="redemption", token=None)
            redemption_terms(
                customer=customer,
                reward=reward,
                now=now,
                use_z_tokens=USE_Z_TOKENS,
                held=_held(customer_id=customer.pk, reward_id=reward.pk),
            )
        except DomainError as refusal:
            raise RedemptionRefused(refusal) from refusal
        redemption = OdRedemption(
            client=client,
            company=company,
            customer=customer,
            reward=reward,
            related_order_id=related_order_id,
            metadata=metadata or {},
            request_key=request_key,
            next_attempt_at=now,
        )
        try:
            with transaction.atomic():
                redemption.save(force_insert=True)
        except IntegrityError:
            # Another customer's request took the key first (this INSERT waited on the index).
            taken = _accepted_before(client=client, company=company, request_key=request_key)
            if taken is None:
                raise
            return _same_request(taken, **same)
    return redemption


def _held(*, customer_id: str, reward_id: str) -> Held:
    """What the redemptions accepted and not yet issued promise of this customer's points, of this
    reward to this customer, and of this reward's stock."""
    waiting = OdRedemption.objects.filter(status=RedemptionStatus.ACCEPTED).filter(
        Q(customer_id=customer_id) | Q(reward_id=reward_id)
    )
    counts = waiting.aggregate(
        points=Sum("reward__points_required", filter=Q(customer_id=customer_id), default=0),
        of_this_reward=Count("pk", filter=Q(customer_id=customer_id, reward_id=reward_id)),
        stock=Count("pk", filter=Q(reward_id=reward_id)),
    )
    return Held(**counts)


def od_redemptions_process_due(*, stop: threading.Event | None = None) -> int:
    """Issue the accepted redemptions that are due; answers how many were attempted (0: none due)."""
    ids, token = outbox_claim(
        OdRedemption,
        pending=RedemptionStatus.ACCEPTED,
        limit=CLAIM_LIMIT,
        per_company=CLAIM_PER_COMPANY,
        lease_seconds=LEASE_SECONDS,
    )
    done = 0
    for redemption_id in ids:
        if stop is not None and stop.is_set():
            # Not started: its lease is given back, another run takes it.
            OdRedemption.objects.filter(pk=redemption_id, lease=token).update(lease="", locked_until=None)
            continue
        od_redemption_process(redemption_id=redemption_id, lease=token)
        done += 1
    return done


def od_redemption_process(*, redemption_id: uuid.UUID, lease: str) -> None:
    """Issue one claimed redemption through ``coupon_redeem``, or record why it refused.

    Locks the OdRedemption row (only while it is still accepted and ``lease`` is this worker's), then
    ``coupon_redeem`` locks the customer and the reward inside the same transaction, and the coupon
    (or the refusal) is recorded on the row before it commits: a worker that dies before the commit
    issued nothing, one that dies after left the row issued, so no redemption is issued twice."""
    try:
        with transaction.atomic():
            redemption = (
                OdRedemption.objects.select_for_update(of=("self",))
                .select_related("company")
                .filter(pk=redemption_id, lease=lease, status=RedemptionStatus.ACCEPTED)
                .first()
            )
            if redemption is None:
                return  # issued or refused meanwhile, or its lease expired and another worker has it
            try:
                with _issuing_for(redemption.pk):
                    issued = coupon_redeem(
                        company=redemption.company,
                        customer_id=redemption.customer_id,
                        reward_id=redemption.reward_id,
                        use_z_tokens=USE_Z_TOKENS,
                        api_key=None,
                    )
            except DomainError as refusal:
                redemption.status = RedemptionStatus.REFUSED
                redemption.refusal = f"{refusal.code or refusal.slug}: {refusal.detail}"[:200]
            else:
                redemption.status = RedemptionStatus.ISSUED
                redemption.coupon = issued.coupon
            _finish(redemption, error="")
    except Exception as exc:
        # Not a refusal (those are recorded above): the database, most likely. Tried again later.
        log.exception("opendelivery: redemption %s could not be processed", redemption_id)
        _retry_later(redemption_id=redemption_id, lease=lease, error=error_text(exc))


def _finish(redemption: OdRedemption, *, error: str) -> None:
    redemption.attempts += 1
    redemption.completed_at = timezone.now()
    redemption.last_error = error
    redemption.lease, redemption.locked_until = "", None
    redemption.save(
        update_fields=[
            "status",
            "coupon",
            "refusal",
            "attempts",
            "completed_at",
            "last_error",
            "lease",
            "locked_until",
        ]
    )


def _retry_later(*, redemption_id: uuid.UUID, lease: str, error: str) -> None:
    with transaction.atomic():
        redemption = OdRedemption.objects.select_for_update().filter(pk=redemption_id, lease=lease).first()
        if redemption is None:
            return
        if redemption.attempts + 1 >= MAX_ATTEMPTS:
            redemption.status = RedemptionStatus.REFUSED
            redemption.refusal = "processing_failed: the redemption could not be processed."
            _finish(redemption, error=error)
            return
        OdRedemption.objects.filter(pk=redemption_id).update(
            attempts=redemption.attempts + 1,
            last_error=error,
            next_attempt_at=timezone.now() + timedelta(seconds=RETRY_SECONDS * (redemption.attempts + 1)),
            lease="",
            locked_until=None,
        )


@contextmanager
def _issuing_for(redemption_id: uuid.UUID) -> Iterator[None]:
    token = _issuing.set(redemption_id)
    try:
        yield
    finally:
        _issuing.reset(token)


def od_redemption_correlation(*, coupon_id: str) -> uuid.UUID | None:
    """The ``correlationId`` of the redemption that issued this coupon, None if no OpenDelivery
    redemption did. Inside the worker's ``coupon_redeem`` (where ``reward.redeemed`` is published,
    before the coupon is recorded on the redemption) it is the redemption being issued."""
    issuing = _issuing.get()
    if issuing is not None:
        return issuing
    return OdRedemption.objects.filter(coupon_id=coupon_id).values_list("pk", flat=True).first()


@dataclass(frozen=True)
class CouponUse:
    coupon_id: str
    used_now: bool  # False: this order had used it already, nothing changed


def od_coupon_use(
    *, client: OdClient, company: Company, coupon_ref: str, related_order_id: str = ""
) -> CouponUse:
    """Use one usage of the company's coupon named by ``coupon_ref`` (its id, or its code in any
    case) through ``coupon_validate``, idempotent by (coupon, ``related_order_id``): the order the
    coupon was last used for through OpenDelivery using it again changes nothing (200), another
    order finds it as ``coupon_validate`` does (used up, expired, cancelled: 409). Without a
    ``related_order_id`` every call is a use.

    Locks the Coupon row first (``coupon_lock_for_use``, the lock ``coupon_validate`` takes, taken
    again by it in the same transaction), so two calls for one coupon serialise and the second reads
    the first's ``OdCouponUse``: the same order sent twice at once uses the coupon once."""
    customer_id = coupon_holder(company_id=company.pk, ref=coupon_ref)
    if customer_id is None:
        raise CouponNotFound()
    refusal: DomainError | None = None
    with transaction.atomic():
        coupon = coupon_lock_for_use(company_id=company.pk, customer_id=customer_id, coupon_ref=coupon_ref)
        if coupon is None:
            raise CouponNotFound()
        if not customer_get(company=company, customer_id=customer_id).is_active:
            raise AccountSuspended()
        recorded = OdCouponUse.objects.filter(coupon_id=coupon.pk).first()
        if related_order_id and recorded is not None and recorded.related_order_id == related_order_id:
            return CouponUse(coupon_id=coupon.pk, used_now=False)
        try:
            coupon_validate(company=company, customer_id=customer_id, coupon_ref=coupon.pk, api_key=None)
        except CouponUsed as exc:
            refusal = CouponUsedForAnotherOrder() if recorded is not None else exc
        except DomainError as exc:
            # Not raised inside the block: an expired coupon's stored mark commits with it.
            refusal = exc
        else:
            OdCouponUse.objects.update_or_create(
                coupon_id=coupon.pk, defaults={"client": client, "related_order_id": related_order_id}
            )
    if refusal is not None:
        raise CouponUseRefused(refusal) from refusal
    return CouponUse(coupon_id=coupon.pk, used_now=True)


def od_coupon(*, coupon_id: str) -> Coupon:
    """The coupon as it is now, for the answer of ``useLoyaltyCoupon``."""
    return Coupon.objects.select_related("reward", "customer").get(pk=coupon_id)
