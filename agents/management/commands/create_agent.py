from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from agents.management.boards import add_board_arguments, boards_named, join_boards
from agents.services import agent_create
from core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Create an agent identity, make it a member of the boards named with --board, and "
        "print its first API token (shown only this once)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="The agent's username, e.g. claude-1.")
        parser.add_argument("--token-name", default="default", help="A name for the token.")
        add_board_arguments(
            parser,
            board_help="A board (id or exact name) to make the agent a member of; an agent "
            "sees only the boards it is a member of.",
        )

    def handle(
        self, *args, name: str, token_name: str, boards: list[str], role: str | None, **options
    ):
        try:
            joining = boards_named(boards)
            # An operator at the command line: no actor, recorded as such in the audit log.
            with transaction.atomic():
                issued = agent_create(actor=None, username=name, token_name=token_name)
                joined = join_boards(user=issued.token.user, boards=joining, role=role)
        except DomainError as error:
            raise CommandError(error.message) from error
        agent = issued.token.user
        for line in joined:
            self.stdout.write(line)
        if not joined:
            self.stdout.write(
                f"{agent.username} is a member of no board yet: add it on a board's Members "
                "page, or run this with --board."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Created agent {agent.username!r} with token {issued.token.name!r}. "
                "The token is shown only now; keep it secret:"
            )
        )
        self.stdout.write(issued.secret)
        self.stdout.write(f"Send it with every request: Authorization: Bearer {issued.secret}")
