from django.core.management.base import BaseCommand, CommandError

from agents.services import agent_create
from core.errors import DomainError


class Command(BaseCommand):
    help = "Create an agent identity and print its first API token (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The agent's username, e.g. claude-1.")
        parser.add_argument("--token-name", default="default", help="A name for the token.")

    def handle(self, *args, name: str, token_name: str, **options):
        try:
            issued = agent_create(actor=None, username=name, token_name=token_name)
        except DomainError as error:
            raise CommandError(error.message) from error
        agent = issued.token.user
        self.stdout.write(
            self.style.SUCCESS(
                f"Created agent {agent.username!r} with token {issued.token.name!r}. "
                "The token is shown only now; keep it secret:"
            )
        )
        self.stdout.write(issued.secret)
        self.stdout.write(f"Send it with every request: Authorization: Bearer {issued.secret}")
