import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from backups.files import ENGINE_NAMES
from backups.selectors import contents_summary, database_contents
from backups.services import backup_check, backup_restore, progress_unit
from core.errors import DomainError
from core.progress import command_progress


class Command(BaseCommand):
    help = (
        "Replace the whole database with a backup made by `manage.py backup`, all or "
        "nothing. Stop the servers first. A database that already holds users, boards "
        "or tickets is replaced only after a typed 'yes', or with --force."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The backup file to restore.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Replace a database that already holds data without asking.",
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Never ask: refuse a database that holds data unless --force is given.",
        )

    def handle(self, *args, path: str, force: bool, interactive: bool, verbosity: int, **options):
        try:
            backup_check(path=Path(path))
            force = force or self._confirmed(path, interactive)
            with command_progress(
                self, "Restoring", unit=progress_unit(), verbosity=verbosity
            ) as bar:
                result = backup_restore(
                    actor=None, path=Path(path), force=force, progress=bar.update
                )
        except DomainError as error:
            hint = " Pass --force to replace it." if error.code == "database_not_empty" else ""
            raise CommandError(f"Nothing was restored. {error.message}{hint}") from error
        except DatabaseError as error:
            raise CommandError(f"The database failed: {error}") from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored the {ENGINE_NAMES[result.engine]} database from {result.path} "
                f"({result.units} {result.unit})."
            )
        )
        if result.pending_migrations:
            self.stdout.write(
                self.style.WARNING(
                    f"The backup predates {len(result.pending_migrations)} migration(s) of "
                    "this version: run `manage.py migrate` before starting the servers."
                )
            )
        if result.unknown_migrations:
            self.stdout.write(
                self.style.WARNING(
                    "The backup comes from a newer version of Agent Kanban (migrations "
                    f"{', '.join(result.unknown_migrations)}): upgrade this installation "
                    "before starting the servers."
                )
            )

    def _confirmed(self, path: str, interactive: bool) -> bool:
        held = database_contents()
        if not held or not interactive or not sys.stdin.isatty():
            return False  # an empty database needs no question; otherwise the service refuses
        summary = contents_summary(held)
        answer = input(
            f"The database holds {summary}. Everything in it will be replaced with "
            f"{path}.\nType 'yes' to continue: "
        )
        if answer.strip().lower() != "yes":
            raise CommandError("Restore cancelled; nothing was changed.")
        return True
