"""The two wallet platforms behind one interface: what the partner API and the outbox need of
each. Apple's lives in ``wallet.apple``, Google's in ``wallet.google``."""

from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.http import HttpRequest

from wallet.models import Platform, WalletJob, WalletPass


@dataclass(frozen=True)
class JobResult:
    """What sending one outbox job came to."""

    ok: bool
    # Nothing more to do for this job and never will be (a device whose token is gone): drop it.
    gone: bool = False
    status_code: int | None = None
    error: str = ""
    # The platform asked for a pause before the next try (seconds), e.g. APNs 429, Google 429/503.
    retry_after: float | None = None
    # What the platform said of the pass's holders, when it said (Google's ``hasUsers``): whether
    # the pass is in someone's wallet now. None: the answer did not say.
    installed: bool | None = None


class WalletPlatform(Protocol):
    def configured(self) -> bool:
        """Whether this server holds what the platform needs (credentials, ids)."""
        ...

    def issue(self, *, wallet_pass: WalletPass, base_url: str) -> None:
        """Called inside the transaction that wrote the new pass, before it commits: whatever the
        platform needs first (Google: insert the object). Raises ``WalletUnavailable`` when the
        platform cannot be reached, which rolls the pass back."""
        ...

    def pass_url(self, *, wallet_pass: WalletPass, base_url: str) -> str:
        """The link the partner hands the customer: a .pkpass URL, a Google save link."""
        ...

    def job_run(self, *, job: WalletJob) -> JobResult:
        """Send one outbox job of this platform (a push, an object update)."""
        ...


def public_base_url(request: HttpRequest) -> str:
    """Where pass links, Apple's webServiceURL and the design images point: WALLET_PUBLIC_URL, else
    the origin the request came to."""
    return settings.WALLET_PUBLIC_URL or request.build_absolute_uri("/").rstrip("/")


def platform(name: str) -> WalletPlatform:
    if name == Platform.APPLE:
        from wallet.apple.platform import APPLE

        return APPLE
    from wallet.google.platform import GOOGLE

    return GOOGLE
