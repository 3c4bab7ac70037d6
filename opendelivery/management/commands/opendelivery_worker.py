import threading

from core.worker import OutboxWorkerCommand
from opendelivery.redemptions import od_redemptions_process_due


class Command(OutboxWorkerCommand):
    help = (
        "Issue the coupons of the OpenDelivery redemptions accepted with 202 (run one or several; "
        "they never issue a redemption twice)."
    )
    name = "opendelivery_worker"

    def deliver_batch(self, *, stop: threading.Event) -> int:
        return od_redemptions_process_due(stop=stop)
