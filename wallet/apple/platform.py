"""Apple Wallet behind wallet.platforms.WalletPlatform (to be written)."""

from wallet.models import WalletJob, WalletPass
from wallet.platforms import JobResult


class ApplePlatform:
    def configured(self) -> bool:
        return False

    def issue(self, *, wallet_pass: WalletPass, base_url: str) -> None:
        raise NotImplementedError

    def pass_url(self, *, wallet_pass: WalletPass, base_url: str) -> str:
        raise NotImplementedError

    def job_run(self, *, job: WalletJob) -> JobResult:
        from wallet.apple.apns import apns_job_run

        return apns_job_run(job=job)


APPLE = ApplePlatform()
