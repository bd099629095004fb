import json
import os
import sys

from django.core.management.base import BaseCommand, CommandError

from agents.services import user_get_by_username
from backups.transfer import board_import
from core.errors import DomainError
from core.progress import command_progress

READ_CHUNK = 1024 * 1024


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
        verbosity = options.get("verbosity", 1)
        data = self._read(file, verbosity)
        if verbosity > 0:
            self.stderr.write(
                "Checking the document and importing the board (all or nothing)...",
                style_func=str,
            )
        try:
            user = user_get_by_username(username=actor) if actor else None
            with command_progress(self, "Importing", unit="rows", verbosity=verbosity) as bar:
                board = board_import(actor=user, data=data, name=name, progress=bar.update)
        except DomainError as error:
            raise CommandError(f"Nothing was imported. {error.message}") from error
        tickets = board.tickets.count()
        self.stdout.write(
            self.style.SUCCESS(f"Imported board {board.pk} {board.name!r} with {tickets} tickets.")
        )

    def _read(self, file: str, verbosity: int):
        try:
            if file == "-":
                return json.load(sys.stdin)
            with open(file, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                chunks, read = [], 0
                with command_progress(
                    self, f"Reading {file}", -(-size // 1024), unit="KiB", verbosity=verbosity
                ) as progress:
                    progress.update(0)
                    while chunk := handle.read(READ_CHUNK):
                        chunks.append(chunk)
                        read += len(chunk)
                        progress.update(-(-read // 1024))
            return json.loads(b"".join(chunks).decode("utf-8"))
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from error
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise CommandError(
                f"Nothing was imported. {file} is not valid JSON: {error}."
            ) from error
