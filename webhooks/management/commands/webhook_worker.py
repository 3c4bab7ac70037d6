import threading

from core.worker import OutboxWorkerCommand
from webhooks.services import webhook_deliver_batch


class Command(OutboxWorkerCommand):
    help = "Deliver webhooks from the outbox (run one or several; they never send an attempt twice)."
    name = "webhook_worker"

    def deliver_batch(self, *, stop: threading.Event) -> int:
        return webhook_deliver_batch(stop=stop)
