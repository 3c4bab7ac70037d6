"""Apple Wallet behind wallet.platforms.WalletPlatform: the pass is a signed .pkpass built on each
download (wallet.apple.pkpass), kept current through the PassKit web service (wallet.passkit) and
APNs pushes (wallet.apple.apns)."""

from wallet.apple.credentials import apple_credentials_or_none
from wallet.errors import WalletUnavailable
from wallet.models import WalletJob, WalletPass
from wallet.platforms import JobResult


class ApplePlatform:
    def configured(self) -> bool:
        """Every WALLET_APPLE_* setting is there and its files load: a certificate, its own key,
        and the WWDR intermediate that issued it."""
        return apple_credentials_or_none() is not None

    def issue(self, *, wallet_pass: WalletPass, base_url: str) -> None:
        """Nothing to create at Apple: the .pkpass is built when it is downloaded. Refuses only when
        the credentials do not load, so that no pass is issued that could not be downloaded."""
        if not self.configured():
            raise WalletUnavailable("Apple Wallet is not configured on this server.")

    def pass_url(self, *, wallet_pass: WalletPass, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/wallet/apple/{wallet_pass.download_token}.pkpass"

    def job_run(self, *, job: WalletJob) -> JobResult:
        from wallet.apple.apns import apns_job_run

        return apns_job_run(job=job)


APPLE = ApplePlatform()
