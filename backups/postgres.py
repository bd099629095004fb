"""PostgreSQL through pg_dump and pg_restore (custom format). Connection settings
come from the Django database settings and reach the tools through the environment
(PGPASSWORD never appears on a command line). Progress is counted in tables, from
the tools' own --verbose lines."""

import os
import re
import shutil
import subprocess
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path

from django.db.backends.postgresql.client import DatabaseClient

from core.errors import InvalidInput

from .files import partial_file

Progress = Callable[[int, int], None]
DUMPED = re.compile(r"dumping contents of table \"(?P<table>[^\"]+)\"")
RESTORED = re.compile(r"processing data for table \"(?P<table>[^\"]+)\"")
LOG_LINES = 20  # how much of a failed tool's output the error quotes


class PostgresBackupError(InvalidInput):
    code = "pg_failed"


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise PostgresBackupError(
            f"{name} is not installed or not on PATH; install the PostgreSQL client "
            "tools of the server's major version (Debian: postgresql-client).",
            code="tool_missing",
        )
    return path


def tool_env(settings_dict: dict) -> dict[str, str]:
    """The environment that points libpq tools at the database `settings_dict` names."""
    _, extra = DatabaseClient.settings_to_cmd_args_env(settings_dict, [])
    env = {**os.environ, **(extra or {})}
    for key, setting in (("PGHOST", "HOST"), ("PGPORT", "PORT"), ("PGUSER", "USER")):
        if settings_dict.get(setting):
            env[key] = str(settings_dict[setting])
    if not settings_dict.get("NAME"):
        raise PostgresBackupError("The database settings name no database (NAME).")
    env["PGDATABASE"] = str(settings_dict["NAME"])
    return env


def _run(command: list[str], env: dict, pattern: re.Pattern, on_table: Callable[[], None]) -> None:
    """Run a tool, calling `on_table` for each table its verbose output names;
    a failure quotes the tool's last lines."""
    tail: deque[str] = deque(maxlen=LOG_LINES)
    process = subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    assert process.stdout is not None
    for line in process.stdout:
        if pattern.search(line):
            on_table()
        else:
            tail.append(line.rstrip())
    if process.wait() != 0:
        name = Path(command[0]).name
        messages = [line for line in tail if "error" in line.lower() or "fatal" in line.lower()]
        quoted = "\n".join(messages or list(tail)[-5:])
        raise PostgresBackupError(f"{name} failed (exit status {process.returncode}):\n{quoted}")


def _counter(total: int, progress: Progress | None) -> Callable[[], None]:
    done = 0
    if progress:
        progress(0, total)

    def on_table() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(min(done, total), total)

    return on_table


def backup(
    settings_dict: dict, tables: int, target: Path, progress: Progress | None = None
) -> None:
    """pg_dump the database to `target` in custom format; `tables` sizes the progress."""
    command = [tool("pg_dump"), "--format=custom", "--verbose", "--no-password"]
    with partial_file(target) as scratch:
        _run(
            [*command, f"--file={scratch}"],
            tool_env(settings_dict),
            DUMPED,
            _counter(tables, progress),
        )


def _toc(path: Path) -> list[str]:
    """The archive's table of contents, one entry a line."""
    done = subprocess.run(
        [tool("pg_restore"), "--list", str(path)],
        capture_output=True,
        text=True,
        errors="replace",
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise PostgresBackupError(f"{path} cannot be read by pg_restore: {done.stderr.strip()}")
    return [line for line in done.stdout.splitlines() if line and not line.startswith(";")]


def contents(path: Path) -> list[str]:
    """The table-data entries of the archive at `path`."""
    return [line for line in _toc(path) if " TABLE DATA " in line]


def archive_tables(path: Path) -> set[str]:
    """The tables ("schema.name") the archive creates."""
    tables = set()
    for line in _toc(path):
        # "<dump id>; <oid> <oid> TABLE <schema> <name> <owner>"
        parts = line.split()
        if len(parts) >= 6 and parts[3] == "TABLE":
            tables.add(f"{parts[4]}.{parts[5]}")
    return tables


def describe(path: Path) -> dict[str, int]:
    """Check that `path` is an Agent Kanban archive; a summary of it."""
    data = contents(path)
    if not _names_table(data, "django_migrations") or not _names_table(data, "boards_board"):
        raise PostgresBackupError(
            f"{path} is a pg_dump archive but not of an Agent Kanban database."
        )
    return {"tables": len(data)}


def _names_table(entries: Iterable[str], table: str) -> bool:
    return any(f" {table} " in f"{entry} " for entry in entries)


def restore(path: Path, settings_dict: dict, progress: Progress | None = None) -> int:
    """Replace what the archive holds in the configured database, in one transaction:
    a failure leaves the database as it was. The number of tables restored."""
    tables = describe(path)["tables"]
    env = tool_env(settings_dict)
    command = [
        tool("pg_restore"),
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        "--verbose",
        "--no-password",
        f"--dbname={env['PGDATABASE']}",
        str(path),
    ]
    _run(command, env, RESTORED, _counter(tables, progress))
    return tables
