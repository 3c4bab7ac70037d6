"""``manage.py wallet_dev_credentials``, docs/wallet.md's "Try it locally": run as a person runs it,
its export lines set as a shell would, then Apple counts as configured and a pass it signs passes
the hand check the docs give."""

import os
import shlex
import subprocess
import sys
import zipfile
from io import BytesIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.factories import CustomerFactory
from wallet.apple.credentials import apple_credentials
from wallet.apple.dev_pki import PASS_TYPE_ID, TEAM_ID
from wallet.apple.pkpass import pkpass_build
from wallet.apple.platform import APPLE
from wallet.models import PassKind, Platform, WalletPass

ROOT = Path(__file__).resolve().parents[2]


def signed(wallet_pass: WalletPass) -> bytes:
    return pkpass_build(
        wallet_pass=wallet_pass,
        credentials=apple_credentials(),
        base_url="http://127.0.0.1:8000",
        now=timezone.now(),
    )


def run_command(out: Path) -> subprocess.CompletedProcess[str]:
    """As scripts/manage runs it on a development machine (DEBUG on)."""
    env = {**os.environ, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "zupy.settings", "LOG_FORMAT": "plain"}
    return subprocess.run(
        [sys.executable, "manage.py", "wallet_dev_credentials", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def exported(stdout: str) -> dict[str, str]:
    (line,) = [line for line in stdout.splitlines() if line.startswith("export ")]
    return dict(word.split("=", 1) for word in shlex.split(line.removeprefix("export ")))


@pytest.mark.django_db
def test_its_export_lines_configure_apple_and_the_pass_passes_the_docs_hand_check(settings, tmp_path):
    made = run_command(tmp_path / "apple")
    assert made.returncode == 0, made.stderr
    variables = exported(made.stdout)
    assert set(variables) == {
        "WALLET_APPLE_PASS_TYPE_ID", "WALLET_APPLE_TEAM_ID", "WALLET_APPLE_CERT_FILE",
        "WALLET_APPLE_KEY_FILE", "WALLET_APPLE_KEY_PASSWORD", "WALLET_APPLE_WWDR_FILE",
    }  # fmt: skip
    assert (variables["WALLET_APPLE_PASS_TYPE_ID"], variables["WALLET_APPLE_TEAM_ID"]) == (
        PASS_TYPE_ID,
        TEAM_ID,
    )
    assert (tmp_path / "apple" / "pass-key.pem").stat().st_mode & 0o077 == 0
    for name, value in variables.items():
        setattr(settings, name, value)
    assert apple_credentials().team_id == TEAM_ID and APPLE.configured()

    owner = CustomerFactory.create(points=10)
    wallet_pass = WalletPass.objects.create(
        company=owner.company,
        customer=owner,
        kind=PassKind.LOYALTY,
        platform=Platform.APPLE,
        changed_at=timezone.now(),
    )
    card = tmp_path / "card"
    zipfile.ZipFile(BytesIO(signed(wallet_pass))).extractall(card)
    # docs/wallet.md's check, with the throwaway root (ca.pem) standing in for Apple's.
    check = subprocess.run(
        ["openssl", "cms", "-verify", "-purpose", "any", "-binary", "-inform", "DER", "-in", "signature",
         "-content", "manifest.json", "-CAfile", str(tmp_path / "apple" / "ca.pem"), "-out", "/dev/null"],
        cwd=card, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr


def test_it_refuses_with_debug_off_and_writes_nothing(settings, tmp_path):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG=true only"):
        call_command("wallet_dev_credentials", "--out", str(tmp_path / "apple"))
    assert not (tmp_path / "apple").exists()


def test_it_refuses_an_out_that_is_a_file(settings, tmp_path):
    settings.DEBUG = True
    taken = tmp_path / "taken"
    taken.write_text("mine")
    with pytest.raises(CommandError, match="is not a directory"):
        call_command("wallet_dev_credentials", "--out", str(taken))
    assert taken.read_text() == "mine"
