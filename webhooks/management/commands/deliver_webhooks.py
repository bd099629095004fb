"""Send the webhooks' deliveries: the production worker (deploy/systemd has its unit).
Several may run at once, on PostgreSQL; SIGTERM finishes the attempts in flight."""

import signal

from django.core.management.base import BaseCommand

from webhooks.worker import Deliverer, deliver_until_idle


class Command(BaseCommand):
    help = "Deliver outgoing webhooks from the board event log until stopped (or --once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--once",
            action="store_true",
            help="Send what is due now, then exit (retries that are not due yet wait).",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=None,
            help="Webhooks sent to at once (default WEBHOOKS_CONCURRENCY).",
        )

    def handle(self, *args, once: bool = False, concurrency: int | None = None, **options):
        if once:
            attempts = deliver_until_idle()
            self.stdout.write(f"Made {attempts} delivery attempt(s).")
            return
        deliverer = Deliverer(concurrency=concurrency)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: deliverer.stop())
        self.stdout.write("Delivering webhooks (SIGTERM or Ctrl-C stops).")
        deliverer.run()
        self.stdout.write("Stopped.")
