"""Backup files: which engine made one, and writing one without ever leaving a
half-written file under the name an operator (or a restore) would trust."""

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from core.errors import InvalidInput, NotFound

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
ENGINE_NAMES = {SQLITE: "SQLite", POSTGRESQL: "PostgreSQL"}

SQLITE_MAGIC = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database
PG_DUMP_MAGIC = b"PGDMP"  # the first 5 bytes of a pg_dump custom-format archive


def engine_of_database(vendor: str) -> str:
    """The backup engine for a Django connection vendor."""
    if vendor in (SQLITE, POSTGRESQL):
        return vendor
    raise InvalidInput(f"Backups support SQLite and PostgreSQL, not {vendor}.", code="engine")


def engine_of_file(path: Path) -> str:
    """The engine that made the backup at `path`, read from its first bytes."""
    if not path.exists():
        raise NotFound(f"{path} does not exist.", code="backup_missing")
    if path.is_dir():
        raise InvalidInput(f"{path} is a directory, not a backup file.", code="not_a_backup")
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except OSError as error:
        raise InvalidInput(f"Cannot read {path}: {error.strerror}.", code="unreadable") from error
    if head.startswith(SQLITE_MAGIC):
        return SQLITE
    if head.startswith(PG_DUMP_MAGIC):
        return POSTGRESQL
    raise InvalidInput(
        f"{path} is not a backup made by `manage.py backup` (neither a SQLite database "
        "nor a pg_dump custom-format archive).",
        code="not_a_backup",
    )


def check_target(path: Path) -> None:
    """Refuse a PATH a backup cannot be written to, before any work starts."""
    if path.is_dir():
        raise InvalidInput(f"{path} is a directory; give the backup a file name.", code="target")
    if not path.parent.is_dir():
        raise NotFound(f"The directory {path.parent} does not exist.", code="target_missing")
    if not os.access(path.parent, os.W_OK):
        raise InvalidInput(f"Cannot write to the directory {path.parent}.", code="target")


@contextlib.contextmanager
def partial_file(path: Path) -> Iterator[Path]:
    """A private scratch file beside `path` that becomes `path` only when the block
    succeeds. Backups hold password and token hashes: owner-only from the start."""
    scratch = path.with_name(f".{path.name}.partial-{os.getpid()}")
    scratch.unlink(missing_ok=True)
    os.close(os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        yield scratch
        os.chmod(scratch, 0o600)
        os.replace(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)
