from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from backups.files import ENGINE_NAMES
from backups.services import backup_create, progress_unit
from core.errors import DomainError
from core.progress import command_progress


def file_size(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} bytes"  # not reached


class Command(BaseCommand):
    help = (
        "Back up the whole database to PATH: SQLite with its online backup API, "
        "PostgreSQL with pg_dump (custom format). Safe while the servers run. A file "
        "already at PATH is replaced only once the new backup is complete."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The backup file to write.")

    def handle(self, *args, path: str, verbosity: int, **options):
        try:
            unit = progress_unit()
            with command_progress(self, "Backing up", unit=unit, verbosity=verbosity) as bar:
                result = backup_create(actor=None, path=Path(path), progress=bar.update)
        except DomainError as error:
            raise CommandError(f"No backup was written. {error.message}") from error
        except DatabaseError as error:
            raise CommandError(f"No backup was written. The database failed: {error}") from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Backed up the {ENGINE_NAMES[result.engine]} database to {result.path} "
                f"({file_size(result.size)}, {result.units} {result.unit})."
            )
        )
