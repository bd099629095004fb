from django.core.management.base import BaseCommand

from tickets.services import leases_expire


class Command(BaseCommand):
    help = (
        "Clear every claim whose lease has run out, recording the expiry in history and "
        "telling the boards' watchers. Run it periodically (cron, a systemd timer)."
    )

    def handle(self, *args, **options):
        cleared = leases_expire(actor=None)
        noun = "claim" if cleared == 1 else "claims"
        self.stdout.write(f"Cleared {cleared} expired {noun}.")
