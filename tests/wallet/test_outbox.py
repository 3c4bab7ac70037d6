"""The wallet outbox in this process against the loopback APNs: one push per registered device,
a dead token ends its registration without holding up the others, retries follow
WALLET_RETRY_DELAYS (and APNs' Retry-After), an attempt that never gets an answer ends at the
deadline, and a claim is exclusive."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import CouponFactory, CustomerFactory
from tests.wallet.apns_receiver import PASS_TYPE_ID, Answer
from tests.wallet.apns_rows import apple_pass, register, token
from wallet.models import AppleRegistration, JobKind, JobStatus, WalletJob
from wallet.outbox import wallet_deliver_batch, wallet_job_attempt, wallet_jobs_claim
from wallet.services import wallet_passes_touch

pytestmark = pytest.mark.django_db


@pytest.fixture
def card():
    customer = CustomerFactory.create()
    return apple_pass(customer)


def touch(wallet_pass):
    wallet_passes_touch(company_id=wallet_pass.company_id, customer_id=wallet_pass.customer_id)


def test_every_registered_device_gets_one_push_and_a_dead_token_drops_only_its_registration(apns, card):
    alive = [register(card, token(f"alive-{n}")) for n in range(3)]
    dead = register(card, token("dead"))
    apns.answers[token("dead")] = [Answer(410, "Unregistered")]
    touch(card)

    assert wallet_deliver_batch() == 4

    assert sorted(p.token for p in apns.pushes) == sorted(
        token(n) for n in ["dead", *[f"alive-{n}" for n in range(3)]]
    )
    assert {p.headers["apns-topic"] for p in apns.pushes} == {PASS_TYPE_ID}
    for registration in alive:
        registration.refresh_from_db()
        assert registration.last_push_at is not None and registration.unregistered_at is None
    dead.refresh_from_db()
    assert dead.unregistered_at is not None and dead.last_push_at is None
    statuses = dict(WalletJob.objects.values_list("registration_id", "status"))
    assert statuses == {**{r.pk: JobStatus.SUCCEEDED for r in alive}, dead.pk: JobStatus.DROPPED}

    touch(card)  # the next change pushes to the live devices only
    assert wallet_deliver_batch() == 3
    assert len(apns.pushes_to(token("dead"))) == 1


def test_bad_device_token_also_ends_the_registration(apns, card):
    registration = register(card, token("bad"))
    apns.answers[token("bad")] = [Answer(400, "BadDeviceToken")]
    touch(card)
    wallet_deliver_batch()
    registration.refresh_from_db()
    assert registration.unregistered_at is not None
    assert WalletJob.objects.get().status == JobStatus.DROPPED


def test_a_failed_push_is_retried_after_the_configured_delay(apns, card, settings):
    settings.WALLET_RETRY_DELAYS = [0.0, 0.0]
    register(card, token("flaky"))
    apns.answers[token("flaky")] = [Answer(500, "InternalServerError"), Answer(200)]
    touch(card)

    wallet_deliver_batch()
    job = WalletJob.objects.get()
    assert (job.status, job.attempts, job.last_status_code) == (JobStatus.PENDING, 1, 500)
    assert "InternalServerError" in job.last_error

    wallet_deliver_batch()
    job.refresh_from_db()
    assert (job.status, job.attempts, job.last_status_code, job.last_error) == (
        JobStatus.SUCCEEDED,
        2,
        200,
        "",
    )
    assert len(apns.pushes) == 2


def test_retries_run_out(apns, card, settings):
    settings.WALLET_RETRY_DELAYS = [0.0]
    register(card, token("down"))
    apns.answers[token("down")] = [Answer(503, "ServiceUnavailable")]
    touch(card)

    wallet_deliver_batch()
    wallet_deliver_batch()
    job = WalletJob.objects.get()
    assert (job.status, job.attempts) == (JobStatus.EXHAUSTED, 2)
    assert job.done_at is not None
    assert wallet_deliver_batch() == 0


def test_retry_after_from_apns_is_honoured_over_a_shorter_delay(apns, card, settings):
    settings.WALLET_RETRY_DELAYS = [1.0]
    register(card, token("busy"))
    apns.answers[token("busy")] = [Answer(429, "TooManyRequests", (("retry-after", "120"),))]
    touch(card)
    before = timezone.now()

    wallet_deliver_batch()

    job = WalletJob.objects.get()
    assert job.status == JobStatus.PENDING
    assert job.next_attempt_at >= before + timedelta(seconds=120)
    assert wallet_deliver_batch() == 0, "not due before APNs said"


def test_a_device_that_unregistered_after_the_push_was_queued_is_not_pushed(apns, card):
    registration = register(card, token("left"))
    touch(card)
    AppleRegistration.objects.filter(pk=registration.pk).update(unregistered_at=timezone.now())

    assert wallet_deliver_batch() == 1
    assert apns.pushes == []
    assert WalletJob.objects.get().status == JobStatus.DROPPED


def test_an_unanswered_push_ends_at_the_deadline_and_the_others_still_go(apns, card, settings):
    settings.WALLET_TIMEOUT = 3.0
    settings.WALLET_RETRY_DELAYS = [60.0]
    stalled = register(card, token("stalled"))
    fine = register(card, token("fine"))
    apns.answers[token("stalled")] = [Answer(None)]
    touch(card)

    assert wallet_deliver_batch() == 2

    jobs = {j.registration_id: j for j in WalletJob.objects.all()}
    assert jobs[fine.pk].status == JobStatus.SUCCEEDED
    assert jobs[stalled.pk].status == JobStatus.PENDING and jobs[stalled.pk].attempts == 1
    assert jobs[stalled.pk].last_error


def test_a_claim_is_exclusive_and_a_lost_lease_does_not_overwrite_the_row(apns, card):
    for n in range(3):
        register(card, token(f"d{n}"))
    touch(card)

    first = wallet_jobs_claim()
    assert len(first) == 3
    assert wallet_jobs_claim() == [], "leased jobs are not claimed again"

    job = first[0]
    WalletJob.objects.filter(pk=job.pk).update(lease="someone-else")
    wallet_job_attempt(job=job)
    row = WalletJob.objects.get(pk=job.pk)
    assert (row.status, row.attempts, row.lease) == (JobStatus.PENDING, 0, "someone-else")


def test_a_change_queues_one_push_per_registration_and_not_twice_while_untried(card):
    for n in range(2):
        register(card, token(f"d{n}"))
    touch(card)
    touch(card)
    assert WalletJob.objects.filter(kind=JobKind.APPLE_PUSH).count() == 2


def test_a_coupon_pass_is_pushed_when_its_coupon_changes(apns):
    coupon = CouponFactory.create()
    wallet_pass = apple_pass(coupon.customer, coupon=coupon)
    register(wallet_pass, token("coupon"))
    wallet_passes_touch(company_id=coupon.company_id, customer_id=coupon.customer_id, coupon_id=coupon.pk)

    wallet_deliver_batch()

    assert [p.token for p in apns.pushes] == [token("coupon")]


def test_a_platform_that_fails_unexpectedly_is_a_recorded_attempt(apns, card, monkeypatch):
    register(card, token("boom"))
    touch(card)

    def explode(*, job):
        raise RuntimeError("something broke")

    monkeypatch.setattr("wallet.apple.platform.APPLE.job_run", explode)
    assert wallet_deliver_batch() == 1
    job = WalletJob.objects.get()
    assert job.status == JobStatus.PENDING and job.attempts == 1 and "something broke" in job.last_error


def test_a_device_that_registered_again_with_a_new_token_keeps_its_registration(apns, card):
    registration = register(card, token("old"))
    apns.answers[token("old")] = [Answer(410, "Unregistered")]
    touch(card)
    claimed = wallet_jobs_claim()
    # The device registers again, with a new token, while the push to its old one is in flight.
    registration.device.push_token = token("new")
    registration.device.save()

    wallet_job_attempt(job=claimed[0])

    registration.refresh_from_db()
    assert registration.unregistered_at is None
    assert WalletJob.objects.get().status == JobStatus.DROPPED
