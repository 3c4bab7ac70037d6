from typing import Any

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self) -> None:
        from core.events import published
        from webhooks.services import webhook_emit

        def record(*, company_id: str, event: str, data: dict[str, Any], **_: Any) -> None:
            webhook_emit(company_id=company_id, event=event, data=data)

        # Strong reference, held by the app config: the receiver lives as long as the process.
        self._record = record
        published.connect(record, dispatch_uid="webhooks.record")
