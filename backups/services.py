"""Backup and restore of the whole database: every user, token, board, ticket,
comment, history row and event. (One board as a portable document is
backups.transfer's job.) SQLite is copied with its online backup API, PostgreSQL with
pg_dump/pg_restore in custom format; the file's first bytes say which made it."""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection, connections

from audit.services import audit_record
from core.database import migration_state
from core.errors import Conflict, InvalidInput

from . import postgres, sqlite
from .files import ENGINE_NAMES, SQLITE, check_target, engine_of_database, engine_of_file
from .selectors import contents_summary, database_contents, postgres_tables

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BackupResult:
    path: Path
    engine: str
    size: int
    units: int
    unit: str


@dataclass(frozen=True)
class RestoreResult:
    path: Path
    engine: str
    units: int
    unit: str
    pending_migrations: list[str] = field(default_factory=list)
    unknown_migrations: list[str] = field(default_factory=list)


def progress_unit() -> str:
    """What the progress of this database's backup and restore is counted in."""
    return "pages" if engine_of_database(connection.vendor) == SQLITE else "tables"


def _sqlite_file() -> Path:
    name = str(connection.settings_dict["NAME"])
    if name == ":memory:" or name.startswith("file:"):
        raise InvalidInput("An in-memory SQLite database cannot be backed up or restored.")
    return Path(name).resolve()


def backup_create(*, actor, path: Path, progress: Progress | None = None) -> BackupResult:
    """Write a backup of the configured database to `path` (replacing a file there
    only once the new backup is complete). Safe while the servers run."""
    path = Path(path).resolve()
    engine = engine_of_database(connection.vendor)
    check_target(path)
    if engine == SQLITE:
        if path == _sqlite_file():
            raise InvalidInput("The backup file cannot be the database file itself.")
        units = sqlite.backup(str(_sqlite_file()), path, progress)
    else:
        units = len(postgres_tables())
        postgres.backup(connection.settings_dict, units, path, progress)
    return BackupResult(
        path=path, engine=engine, size=path.stat().st_size, units=units, unit=progress_unit()
    )


def backup_check(*, path: Path) -> str:
    """The engine of the backup at `path`, once it is known to fit this installation."""
    path = Path(path).resolve()
    made_by, here = engine_of_file(path), engine_of_database(connection.vendor)
    if made_by != here:
        raise InvalidInput(
            f"{path} is a {ENGINE_NAMES[made_by]} backup, but this installation uses "
            f"{ENGINE_NAMES[here]}. Restore it where DATABASE_URL names a "
            f"{ENGINE_NAMES[made_by]} database.",
            code="wrong_engine",
        )
    if made_by == SQLITE and path == _sqlite_file():
        raise InvalidInput("The backup file is the database file itself.")
    return made_by


def backup_restore(
    *, actor, path: Path, force: bool = False, progress: Progress | None = None
) -> RestoreResult:
    """Replace the configured database's contents with the backup at `path`, all or
    nothing. A database that already holds users, boards or tickets is only
    replaced with `force`."""
    path = Path(path).resolve()
    engine = backup_check(path=path)
    held = database_contents()
    if held and not force:
        summary = contents_summary(held)
        raise Conflict(
            f"The database is not empty ({summary}); a restore replaces all of it.",
            code="database_not_empty",
        )
    if engine != SQLITE:
        # pg_restore --clean drops only what the archive holds: a table it does not know
        # would outlive the restore and trip the next `migrate`.
        strangers = sorted(postgres_tables() - postgres.archive_tables(path))
        if strangers:
            raise Conflict(
                f"The database has tables the backup does not ({', '.join(strangers[:5])}"
                f"{', ...' if len(strangers) > 5 else ''}): it was migrated by a newer version "
                "or holds other data. Restore into a new, empty database.",
                code="unknown_tables",
            )
    # Our own connection must not hold a lock (or, on SQLite, a stale page cache).
    connections.close_all()
    if engine == SQLITE:
        units = sqlite.restore(path, str(_sqlite_file()), progress)
    else:
        units = postgres.restore(path, connection.settings_dict, progress)
    pending, unknown = migration_state()
    if not pending:
        audit_record(
            actor=actor,
            action="backup_restored",
            target_type="database",
            details={"file": str(path), "engine": engine},
        )
    return RestoreResult(
        path=path,
        engine=engine,
        units=units,
        unit=progress_unit(),
        pending_migrations=pending,
        unknown_migrations=unknown,
    )
