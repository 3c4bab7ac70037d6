import threading

from core.worker import OutboxWorkerCommand
from wallet.apple.apns import apns_clients_close
from wallet.outbox import wallet_deliver_batch


class Command(OutboxWorkerCommand):
    help = (
        "Send the wallet outbox: APNs pushes and Google object updates (run one or several; they "
        "never send a job twice at once)."
    )
    name = "wallet_worker"

    def deliver_batch(self, *, stop: threading.Event) -> int:
        return wallet_deliver_batch(stop=stop)

    def closing(self) -> None:
        apns_clients_close()
