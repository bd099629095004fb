import json
import sys

from django.core.management.base import BaseCommand, CommandError

from agent_kanban.errors import DomainError
from agents.services import user_get_by_username
from boards.transfer import board_import


class Command(BaseCommand):
    help = (
        "Make a new board from a file written by export_board. All or nothing: a file "
        "with any problem changes nothing. Users it names that do not exist here are "
        "created as inactive accounts without a password."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The JSON file, or - for stdin.")
        parser.add_argument("--name", help="A name for the new board (default: the exported one).")
        parser.add_argument(
            "--actor", help="The username recorded as doing the import (default: nobody)."
        )

    def handle(self, *args, file: str, name: str | None, actor: str | None, **options):
        data = self._read(file)
        try:
            user = user_get_by_username(username=actor) if actor else None
            board = board_import(actor=user, data=data, name=name)
        except DomainError as error:
            raise CommandError(f"Nothing was imported. {error.message}") from error
        tickets = board.tickets.count()
        self.stdout.write(
            self.style.SUCCESS(f"Imported board {board.pk} {board.name!r} with {tickets} tickets.")
        )

    def _read(self, file: str):
        try:
            if file == "-":
                return json.load(sys.stdin)
            with open(file, encoding="utf-8") as handle:
                return json.load(handle)
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from error
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise CommandError(
                f"Nothing was imported. {file} is not valid JSON: {error}."
            ) from error
