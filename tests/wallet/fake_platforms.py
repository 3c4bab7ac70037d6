"""A stand-in for the two wallet platforms in partner-API tests: the operations are tested against
the ``WalletPlatform`` interface, whatever the Apple and Google modules do behind it."""

import threading
import time
from dataclasses import dataclass, field

import pytest

from wallet.apple.platform import APPLE
from wallet.errors import WalletUnavailable
from wallet.google.platform import GOOGLE
from wallet.models import WalletPass


@dataclass
class FakePlatform:
    name: str
    is_configured: bool = True
    down: bool = False  # issue() raises WalletUnavailable, as a platform that does not answer
    issue_pause: float = 0.0  # seconds issue() takes, to widen a race window (never asserted on)
    issued: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def configured(self) -> bool:
        return self.is_configured

    def issue(self, *, wallet_pass: WalletPass, base_url: str) -> None:
        if self.issue_pause:
            time.sleep(self.issue_pause)
        if self.down:
            raise WalletUnavailable("The platform did not answer; nothing was written.")
        with self._lock:
            self.issued.append(wallet_pass.pk)

    def pass_url(self, *, wallet_pass: WalletPass, base_url: str) -> str:
        return f"{base_url}/wallet/{self.name}/{wallet_pass.download_token}"


def install_fake_platforms(monkeypatch: pytest.MonkeyPatch) -> dict[str, FakePlatform]:
    """Replace the issuing methods of the APPLE and GOOGLE objects (``job_run`` stays theirs) for
    the test; returns the fakes by platform name."""
    fakes = {"apple": FakePlatform("apple"), "google": FakePlatform("google")}
    for real, fake in ((APPLE, fakes["apple"]), (GOOGLE, fakes["google"])):
        monkeypatch.setattr(real, "configured", fake.configured)
        monkeypatch.setattr(real, "issue", fake.issue)
        monkeypatch.setattr(real, "pass_url", fake.pass_url)
    return fakes
