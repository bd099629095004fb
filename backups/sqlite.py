"""SQLite through its online backup API: pages are copied in steps, so a running
server keeps reading and (in WAL mode) writing while a backup is taken."""

import sqlite3
from collections.abc import Callable
from pathlib import Path

from core.errors import InvalidInput

from .files import partial_file

# Pages per step: about a hundredth of the database (a smooth bar), within bounds that
# keep the per-step overhead small and a step short (4 MiB at the default page size).
STEP_MIN, STEP_MAX = 16, 1024
Progress = Callable[[int, int], None]


class SQLiteBackupError(InvalidInput):
    code = "sqlite_failed"


def _step(pages: int) -> int:
    return max(STEP_MIN, min(STEP_MAX, pages // 100))


def _report(progress: Progress | None):
    if progress is None:
        return None

    def step(status: int, remaining: int, total: int) -> None:
        progress(total - remaining, total)

    return step


def _page_count(connection: sqlite3.Connection) -> int:
    return connection.execute("PRAGMA page_count").fetchone()[0]


def _quick_check(connection: sqlite3.Connection, what: str) -> None:
    result = [row[0] for row in connection.execute("PRAGMA quick_check")]
    if result != ["ok"]:
        raise SQLiteBackupError(f"{what} is damaged: {'; '.join(result[:3])}.")


def backup(database: str, target: Path, progress: Progress | None = None) -> int:
    """Copy the database file `database` to `target`; the number of pages copied."""
    with partial_file(target) as scratch:
        source = sqlite3.connect(database, isolation_level=None)
        destination = sqlite3.connect(scratch, isolation_level=None)
        try:
            # One read transaction held across every step: the copy is one consistent
            # snapshot, and writers on other connections never force it to restart.
            source.execute("BEGIN")
            pages = _page_count(source)
            if progress:
                progress(0, pages)
            source.backup(destination, pages=_step(pages), progress=_report(progress))
            source.execute("COMMIT")
            # A backup is one self-contained file, whatever mode the live database uses.
            destination.execute("PRAGMA journal_mode=DELETE")
            _quick_check(destination, "The new backup")
        except sqlite3.Error as error:
            raise SQLiteBackupError(f"The SQLite backup failed: {error}.") from error
        finally:
            destination.close()
            source.close()
    return pages


def describe(path: Path) -> dict[str, int]:
    """Check that `path` is an intact Agent Kanban database; a summary of it."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise SQLiteBackupError(f"Cannot open {path}: {error}.") from error
    try:
        _quick_check(connection, str(path))
        tables = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if "django_migrations" not in tables or "boards_board" not in tables:
            raise SQLiteBackupError(f"{path} is a SQLite database but not an Agent Kanban one.")
        return {"pages": _page_count(connection), "tables": len(tables)}
    except sqlite3.DatabaseError as error:
        raise SQLiteBackupError(f"{path} cannot be read as a SQLite database: {error}.") from error
    finally:
        connection.close()


def restore(
    source_path: Path, database: str, progress: Progress | None = None, *, timeout: float = 20
) -> int:
    """Replace the contents of the database file `database` with the backup at
    `source_path`, all or nothing; the number of pages copied."""
    pages = describe(source_path)["pages"]
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, isolation_level=None)
    destination = sqlite3.connect(database, timeout=timeout, isolation_level=None)
    try:
        if progress:
            progress(0, pages)
        # The destination stays write-locked from the first step to the last, and
        # an unfinished copy is rolled back: readers see the old data or the new.
        source.backup(destination, pages=_step(pages), progress=_report(progress))
    except sqlite3.Error as error:
        raise SQLiteBackupError(f"The SQLite restore failed: {error}.") from error
    finally:
        destination.close()
        source.close()
    return pages
