import json

from django.core.management.base import BaseCommand, CommandError

from backups.transfer import board_export
from core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Write a board (columns, labels, tickets, comments, history) as JSON, to a file or "
        "to stdout. The format is described in backups/transfer.py."
    )

    def add_arguments(self, parser):
        parser.add_argument("board_id", type=int)
        parser.add_argument("--output", "-o", help="A file to write (default: stdout).")

    def handle(self, *args, board_id: int, output: str | None, **options):
        try:
            document = board_export(board_id=board_id)
        except DomainError as error:
            raise CommandError(error.message) from error
        text = json.dumps(document, indent=2, ensure_ascii=False)
        if output is None:
            self.stdout.write(text)
            return
        try:
            with open(output, "w", encoding="utf-8") as file:
                file.write(text + "\n")
        except OSError as error:
            raise CommandError(f"Cannot write {output}: {error.strerror}.") from error
        self.stderr.write(
            f"Exported board {board_id} ({len(document['tickets'])} tickets) to {output}."
        )
