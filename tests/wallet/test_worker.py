"""The real ``manage.py wallet_worker`` process, as compose runs it, on this test's PostgreSQL database
and against the loopback APNs: a coupon validated through the API reaches every device registered
for its pass as one push with the pass type id as topic; a dead token loses its registration while
the other devices still get theirs; a failed push is retried; SIGTERM stops it cleanly."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from tests.conftest import Api
from tests.e2e.servers import ROOT, production_env
from tests.factories import CouponFactory, CustomerFactory, RewardFactory, make_key
from tests.wallet.apns_receiver import PASS_TYPE_ID, Answer, ApnsReceiver, Pki, apns_settings
from tests.wallet.apns_rows import apple_pass, register, token
from wallet.models import AppleRegistration, JobStatus, PassState, WalletJob, WalletPass
from wallet.services import wallet_passes_touch

pytestmark = pytest.mark.django_db(transaction=True)


def worker_env(pki: Pki, receiver: ApnsReceiver, heartbeats: Path, **extra: str) -> dict[str, str]:
    db = connection.settings_dict
    return production_env(
        "wallet-worker",
        **{
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "CACHE_URL": "locmemcache://wallet-worker",
            "HEARTBEAT_DIR": str(heartbeats),
            "WALLET_TIMEOUT": "5",
            "WALLET_RETRY_DELAYS": "0,0",
            **apns_settings(pki, receiver),
            **extra,
        },
    )


def run_worker_once(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "wallet_worker", "--once"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


@pytest.fixture
def receiver(apns_pki):
    made = ApnsReceiver(apns_pki)
    yield made
    made.shutdown()


def test_a_validated_coupon_pushes_each_device_of_its_pass_once_and_a_dead_token_loses_its_registration(
    apns_pki, receiver, tmp_path
):
    customer = CustomerFactory.create()
    coupon = CouponFactory.create(customer=customer, reward=RewardFactory.create(company=customer.company))
    wallet_pass = apple_pass(customer, coupon=coupon)
    tag_before = wallet_pass.changed_at
    phone, watch, flaky, dead = (register(wallet_pass, token(n)) for n in ("phone", "watch", "flaky", "dead"))
    receiver.answers[token("dead")] = [Answer(410, "Unregistered")]
    receiver.answers[token("flaky")] = [Answer(500, "InternalServerError"), Answer(200)]

    response = Api(make_key(customer.company)).validate(customer.pk, coupon.code)
    assert response.status_code == 200, response.content
    assert WalletJob.objects.filter(wallet_pass=wallet_pass).count() == 4, "queued with the validation"

    done = run_worker_once(worker_env(apns_pki, receiver, tmp_path))

    assert done.returncode == 0, done.stderr
    assert "5 attempt(s) made" in done.stdout
    assert len(receiver.pushes_to(token("phone"))) == 1
    assert len(receiver.pushes_to(token("watch"))) == 1
    assert len(receiver.pushes_to(token("dead"))) == 1
    assert len(receiver.pushes_to(token("flaky"))) == 2, "500, then retried"
    for push in receiver.pushes:
        assert push.headers["apns-topic"] == PASS_TYPE_ID and push.body == b"{}" and push.alpn == "h2"
    for registration in (phone, watch, flaky):
        registration.refresh_from_db()
        assert registration.last_push_at is not None and registration.unregistered_at is None
    dead.refresh_from_db()
    assert dead.unregistered_at is not None
    assert sorted(WalletJob.objects.values_list("status", flat=True)) == sorted(
        [JobStatus.SUCCEEDED] * 3 + [JobStatus.DROPPED]
    )
    # What the devices download next: the pass moved its update tag and is voided.
    wallet_pass = WalletPass.objects.select_related("coupon").get(pk=wallet_pass.pk)
    assert wallet_pass.changed_at > tag_before
    assert wallet_pass.state(timezone.now()) == PassState.VOIDED
    assert (
        AppleRegistration.objects.filter(wallet_pass=wallet_pass, unregistered_at__isnull=True).count() == 3
    )


def test_sigterm_stops_the_worker_mid_push_and_gives_the_job_back_unspent(apns_pki, receiver, tmp_path):
    customer = CustomerFactory.create()
    card = apple_pass(customer)
    register(card, token("stalled"))
    receiver.answers[token("stalled")] = [Answer(None)]
    wallet_passes_touch(company_id=customer.company_id, customer_id=customer.pk)
    env = worker_env(apns_pki, receiver, tmp_path, WALLET_TIMEOUT="120")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "wallet_worker", "--idle-sleep", "0.2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not receiver.pushes:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "the worker never pushed"
            time.sleep(0.1)
        assert (tmp_path / "wallet_worker").exists(), "it beats for the health check"
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, output
    assert "wallet_worker: 0 attempt(s) made" in output
    job = WalletJob.objects.get()
    assert (job.status, job.attempts, job.lease, job.locked_until) == (JobStatus.PENDING, 0, "", None)


def test_an_unknown_apns_auth_stops_the_process_at_start(apns_pki, receiver, tmp_path):
    env = worker_env(apns_pki, receiver, tmp_path, WALLET_APNS_AUTH="password")
    done = run_worker_once(env)
    assert done.returncode != 0
    assert "WALLET_APNS_AUTH must be certificate or token" in done.stderr
    assert receiver.pushes == []


def test_the_worker_pushes_with_certificate_auth(apns_pki, tmp_path):
    receiver = ApnsReceiver(apns_pki, require_client_cert=True)
    try:
        customer = CustomerFactory.create()
        card = apple_pass(customer)
        register(card, token("phone"))
        wallet_passes_touch(company_id=customer.company_id, customer_id=customer.pk)

        done = run_worker_once(worker_env(apns_pki, receiver, tmp_path, WALLET_APNS_AUTH="certificate"))

        assert done.returncode == 0, done.stderr
        (push,) = receiver.pushes
        assert push.client_subject is not None and PASS_TYPE_ID in push.client_subject
        assert "authorization" not in push.headers
        assert WalletJob.objects.get().status == JobStatus.SUCCEEDED
    finally:
        receiver.shutdown()
