from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from agents.management.boards import add_board_arguments, boards_named, join_boards
from agents.services import token_issue, user_get_by_username
from core.errors import DomainError

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
        parser.add_argument(
            "--read-only", action="store_true", help="The token may read but not write."
        )
        add_board_arguments(
            parser,
            board_help="Limit the token to this board (id or exact name; default: every "
            "board of the user), making the user a member of it if they are not.",
        )

    def handle(
        self,
        *args,
        username: str,
        name: str,
        expires_days: int | None,
        read_only: bool,
        boards: list[str],
        role: str | None,
        **options,
    ):
        if expires_days is not None and not 1 <= expires_days <= MAX_DAYS:
            raise CommandError(f"--expires-days must be from 1 to {MAX_DAYS}.")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        try:
            user = user_get_by_username(username=username)
            limited_to = boards_named(boards)
            # An operator at the command line: no actor, recorded as such in the audit log.
            with transaction.atomic():
                joined = join_boards(user=user, boards=limited_to, role=role)
                issued = token_issue(
                    actor=None,
                    user=user,
                    name=name,
                    expires_at=expires_at,
                    read_only=read_only,
                    board_ids=[board.pk for board in limited_to],
                )
        except DomainError as error:
            raise CommandError(error.message) from error
        for line in joined:
            self.stdout.write(line)
        until = f"until {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else "with no expiry"
        self.stdout.write(
            self.style.SUCCESS(
                f"Token {issued.token.name!r} for {user.username!r}, valid {until}. "
                "It is shown only now; keep it secret:"
            )
        )
        self.stdout.write(issued.secret)
        self.stdout.write(f"Send it with every request: Authorization: Bearer {issued.secret}")
