"""Source databases, one per engine, migrated and seeded once for the whole folder.
Tests only read them; every restore goes to a database of its own."""

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.backup.procs import (
    child_env,
    manage,
    migrate_and_seed,
    postgres_database,
    postgres_rows,
    sqlite_rows,
    sqlite_url,
)


@dataclass
class Source:
    env: dict
    seeded: dict
    path: Path | None = None  # the SQLite file
    url: str = ""

    def rows(self):
        return sqlite_rows(self.path) if self.path else postgres_rows(self.url)


@dataclass
class Backup:
    path: Path
    stdout: str
    stderr: str


def _backup(source: Source, path: Path) -> Backup:
    made = manage(source.env, "backup", str(path))
    assert made.returncode == 0, made.stderr
    return Backup(path=path, stdout=made.stdout, stderr=made.stderr)


@pytest.fixture(scope="session")
def sqlite_source(tmp_path_factory) -> Source:
    var = tmp_path_factory.mktemp("backup-sqlite-source")
    path = var / "source.sqlite3"
    env = child_env(var, sqlite_url(path))
    return Source(env=env, seeded=migrate_and_seed(env), path=path)


@pytest.fixture(scope="session")
def postgres_source(tmp_path_factory):
    var = tmp_path_factory.mktemp("backup-postgres-source")
    with postgres_database("source") as url:
        env = child_env(var, url)
        yield Source(env=env, seeded=migrate_and_seed(env), url=url)


@pytest.fixture(scope="session")
def sqlite_backup(sqlite_source, tmp_path_factory) -> Backup:
    """The source backed up once by `manage.py backup`, for every test to restore."""
    return _backup(sqlite_source, tmp_path_factory.mktemp("backup-sqlite") / "nightly.sqlite3")


@pytest.fixture(scope="session")
def postgres_backup(postgres_source, tmp_path_factory) -> Backup:
    return _backup(postgres_source, tmp_path_factory.mktemp("backup-postgres") / "nightly.pgdump")
