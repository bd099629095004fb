from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from agent_kanban.errors import DomainError
from agents.services import token_issue, user_get_by_username

MAX_DAYS = 36_500


class Command(BaseCommand):
    help = "Mint an API token for an existing user (person or agent) and print it once."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="A name for the token.")
        parser.add_argument(
            "--expires-days",
            type=int,
            default=None,
            help="Valid for this many days (default: no expiry).",
        )

    def handle(self, *args, username: str, name: str, expires_days: int | None, **options):
        if expires_days is not None and not 1 <= expires_days <= MAX_DAYS:
            raise CommandError(f"--expires-days must be from 1 to {MAX_DAYS}.")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        try:
            user = user_get_by_username(username=username)
            issued = token_issue(user=user, name=name, expires_at=expires_at)
        except DomainError as error:
            raise CommandError(error.message) from error
        until = f"until {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else "with no expiry"
        self.stdout.write(
            self.style.SUCCESS(
                f"Token {issued.token.name!r} for {user.username!r}, valid {until}. "
                "It is shown only now; keep it secret:"
            )
        )
        self.stdout.write(issued.secret)
        self.stdout.write(f"Send it with every request: Authorization: Bearer {issued.secret}")
