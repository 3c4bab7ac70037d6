"""Google Wallet behind wallet.platforms.WalletPlatform (to be written)."""

from wallet.models import WalletJob, WalletPass
from wallet.platforms import JobResult


class GooglePlatform:
    def configured(self) -> bool:
        return False

    def issue(self, *, wallet_pass: WalletPass, base_url: str) -> None:
        raise NotImplementedError

    def pass_url(self, *, wallet_pass: WalletPass, base_url: str) -> str:
        raise NotImplementedError

    def job_run(self, *, job: WalletJob) -> JobResult:
        raise NotImplementedError


GOOGLE = GooglePlatform()
