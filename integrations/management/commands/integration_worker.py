import threading

from core.worker import OutboxWorkerCommand
from integrations.services import inbound_process_due


class Command(OutboxWorkerCommand):
    help = (
        "Process the partners' inbound order bodies into points (run one or several; they never "
        "process a body twice at once)."
    )
    name = "integration_worker"

    def deliver_batch(self, *, stop: threading.Event) -> int:
        return inbound_process_due(stop=stop)
