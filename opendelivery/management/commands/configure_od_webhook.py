import json

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from core.errors import DomainError
from opendelivery.events import SUBSCRIBABLE, od_client_webhook_configure
from opendelivery.models import OdClient


class Command(BaseCommand):
    help = (
        "Set an OpenDelivery client's webhook for its signed loyalty events. Prints "
        '{"client", "webhook_url", "webhook_events", "webhook_secret"}; the secret only when it is '
        "generated (the first URL, or --rotate-secret): it is not shown again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("client", help="the client's OAuth client_id (or its OpenDelivery client id)")
        parser.add_argument("--url", help="the receiver's URL; an empty string turns events off")
        parser.add_argument(
            "--events",
            help="comma-separated event types; empty: the standard's four. Known: " + ", ".join(SUBSCRIBABLE),
        )
        parser.add_argument("--rotate-secret", action="store_true")

    def handle(self, *args: object, **options: object) -> None:
        ref = str(options["client"])
        client = OdClient.objects.filter(Q(pk=ref) | Q(application__client_id=ref)).first()
        if client is None:
            raise CommandError(f"No OpenDelivery client {ref!r}")
        raw_events = options["events"]
        events = None if raw_events is None else [e.strip() for e in str(raw_events).split(",") if e.strip()]
        try:
            configured = od_client_webhook_configure(
                client_id=client.pk,
                url=None if options["url"] is None else str(options["url"]),
                events=events,
                rotate_secret=bool(options["rotate_secret"]),
            )
        except DomainError as exc:
            details = "; ".join(f"{e['field']}: {e['detail']}" for e in exc.errors or [])
            raise CommandError(f"{exc.detail} {details}".strip()) from exc
        self.stdout.write(
            json.dumps(
                {
                    "client": configured.client.pk,
                    "webhook_url": configured.client.webhook_url,
                    "webhook_events": configured.client.webhook_events,
                    "webhook_secret": configured.new_secret,
                }
            )
        )
