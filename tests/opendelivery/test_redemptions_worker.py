"""The worker that issues accepted redemptions: the real ``manage.py opendelivery_worker`` process as
compose runs it, on this test's database; and what a worker that fails or loses its lease half-way
leaves behind (never a second coupon)."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from coupons.models import Coupon
from opendelivery import redemptions
from opendelivery.models import OdRedemption, RedemptionStatus
from opendelivery.redemptions import (
    od_redemption_process,
    od_redemption_request,
    od_redemptions_process_due,
)
from tests.e2e.servers import ROOT, production_env
from tests.factories import CustomerFactory, RewardFactory
from tests.opendelivery.redeem_rows import od_client_of

pytestmark = pytest.mark.django_db(transaction=True)


def accepted_redemption(points: int = 500, cost: int = 200) -> OdRedemption:
    customer = CustomerFactory.create(points=points)
    reward = RewardFactory.create(company=customer.company, points_required=cost)
    return od_redemption_request(
        client=od_client_of(customer.company),
        company=customer.company,
        account_id=customer.pk,
        reward_id=reward.pk,
    )


def test_the_running_worker_process_issues_what_is_accepted_and_stops_on_sigterm(tmp_path):
    db = connection.settings_dict
    env = production_env(
        "opendelivery-worker",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        CACHE_URL="locmemcache://opendelivery-worker",
        HEARTBEAT_DIR=str(tmp_path),
    )
    process = subprocess.Popen(
        [sys.executable, "manage.py", "opendelivery_worker", "--idle-sleep", "0.2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "opendelivery_worker").exists():
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "the worker never beat"
            time.sleep(0.1)
        redemption = accepted_redemption()  # accepted while it runs: it is picked up on its next turn
        while OdRedemption.objects.get(pk=redemption.pk).status == RedemptionStatus.ACCEPTED:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "the worker never issued it"
            time.sleep(0.1)
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, output
    assert "opendelivery_worker: 1 attempt(s) made" in output
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.ISSUED
    assert Coupon.objects.get().pk == redemption.coupon_id
    call_command("ledger_check")


def test_a_failure_after_the_coupon_is_issued_undoes_it_whole_and_the_retry_issues_once(monkeypatch):
    redemption = accepted_redemption()
    real_finish = redemptions._finish

    def crash(*args: object, **kwargs: object) -> None:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(redemptions, "_finish", crash)
    assert od_redemptions_process_due() == 1
    redemption.refresh_from_db()
    assert (redemption.status, redemption.coupon_id, redemption.attempts) == (
        RedemptionStatus.ACCEPTED,
        None,
        1,
    )
    assert "the database went away" in redemption.last_error
    assert (redemption.lease, redemption.locked_until) == ("", None)
    assert Coupon.objects.count() == 0, "the coupon went with the transaction that failed"
    assert od_redemptions_process_due() == 0, "not due before its retry time"

    monkeypatch.setattr(redemptions, "_finish", real_finish)
    OdRedemption.objects.filter(pk=redemption.pk).update(next_attempt_at=timezone.now())
    assert od_redemptions_process_due() == 1
    redemption.refresh_from_db()
    assert (redemption.status, redemption.attempts) == (RedemptionStatus.ISSUED, 2)
    assert Coupon.objects.count() == 1
    call_command("ledger_check")


def test_a_worker_whose_lease_expired_and_was_taken_issues_nothing():
    redemption = accepted_redemption()
    OdRedemption.objects.filter(pk=redemption.pk).update(
        lease="stale", locked_until=timezone.now() - timedelta(seconds=1)
    )
    assert od_redemptions_process_due() == 1  # another worker takes the expired lease and issues
    od_redemption_process(redemption_id=redemption.pk, lease="stale")  # the first one wakes up
    redemption.refresh_from_db()
    assert (redemption.status, redemption.attempts) == (RedemptionStatus.ISSUED, 1)
    assert Coupon.objects.count() == 1


def test_a_redemption_that_keeps_failing_is_refused_after_its_last_attempt(monkeypatch):
    redemption = accepted_redemption()
    OdRedemption.objects.filter(pk=redemption.pk).update(attempts=redemptions.MAX_ATTEMPTS - 1)

    def crash(**kwargs: object) -> None:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(redemptions, "coupon_redeem", crash)
    od_redemptions_process_due()
    redemption.refresh_from_db()
    assert (redemption.status, redemption.attempts) == (RedemptionStatus.REFUSED, redemptions.MAX_ATTEMPTS)
    assert redemption.refusal.startswith("processing_failed")
    assert Coupon.objects.count() == 0
