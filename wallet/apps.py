from typing import Any

from django.apps import AppConfig


class WalletConfig(AppConfig):
    name = "wallet"
    verbose_name = "Wallet passes"

    def ready(self) -> None:
        from core.events import published
        from wallet.services import wallet_event_follow

        def follow(*, company_id: str, event: str, data: dict[str, Any], **_: Any) -> None:
            wallet_event_follow(company_id=company_id, event=event, data=data)

        # Strong reference, held by the app config: the receiver lives as long as the process.
        self._follow = follow
        published.connect(follow, dispatch_uid="wallet.follow")
