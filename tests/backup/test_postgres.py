"""`manage.py backup` and `restore` on PostgreSQL: pg_dump in custom format, and
pg_restore into a freshly created database, compared row by row. Runs in both test
passes against databases of its own; PostgreSQL being down fails it."""

import re
import stat
import subprocess

import psycopg
import pytest

from backups import postgres
from core.errors import InvalidInput
from tests.backup.procs import (
    assert_same_rows,
    check_restored,
    child_env,
    manage,
    postgres_database,
    postgres_rows,
    run_django,
    sqlite_url,
    without_restore_record,
)


def test_pg_dump_then_pg_restore_into_a_fresh_database_keeps_every_row(
    postgres_source, postgres_backup, tmp_path
):
    backup = postgres_backup.path
    assert f"Backed up the PostgreSQL database to {backup}" in postgres_backup.stdout
    assert "Backing up: 0% (0/" in postgres_backup.stderr
    assert "tables)" in postgres_backup.stderr and "Backing up: 100% (" in postgres_backup.stderr
    assert backup.read_bytes()[:5] == b"PGDMP"
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600

    with postgres_database("restore") as url:
        env = child_env(tmp_path, url)
        restored = manage(env, "restore", str(backup), "--noinput")
        assert restored.returncode == 0, restored.stderr
        assert f"Restored the PostgreSQL database from {backup}" in restored.stdout
        assert "Restoring: 100% (" in restored.stderr and "tables)" in restored.stderr

        assert_same_rows(postgres_source.rows(), without_restore_record(postgres_rows(url)))
        assert check_restored(env, postgres_source.seeded) == {
            "agent": "claude-backup",
            "board": "Shop",
            "new_id_is_fresh": True,
            "tickets": 24,
        }


def test_restore_over_data_needs_force_and_is_all_or_nothing(
    postgres_source, postgres_backup, tmp_path
):
    archive = str(postgres_backup.path)
    truncated = tmp_path / "truncated.pgdump"
    data = postgres_backup.path.read_bytes()
    # The table of contents stays readable; the last tables' data is gone.
    truncated.write_bytes(data[:-1000])

    with postgres_database("target") as url:
        env = child_env(tmp_path, url)
        assert manage(env, "restore", archive).returncode == 0
        run_django(
            env,
            "from boards.models import Board\nfrom tickets.services import ticket_create\n"
            "board = Board.objects.get(name='Shop')\n"
            "ticket_create(actor=board.created_by, board_id=board.pk, title='Only here')",
        )
        before = postgres_rows(url)

        refused = manage(env, "restore", archive)
        assert refused.returncode == 1
        assert "The database is not empty (4 users" in refused.stderr
        assert "Pass --force to replace it." in refused.stderr
        assert postgres_rows(url) == before

        broken = manage(env, "restore", str(truncated), "--force")
        assert broken.returncode == 1
        assert "Nothing was restored. pg_restore failed (exit status 1)" in broken.stderr
        # It failed part of the way through (where depends on how many tables there are).
        reached = [int(share) for share in re.findall(r"Restoring: (\d+)%", broken.stderr)]
        assert reached and 0 < max(reached) < 100, broken.stderr
        assert "Traceback" not in broken.stderr
        assert postgres_rows(url) == before  # one transaction: nothing half-done stays

        forced = manage(env, "restore", archive, "--force")
        assert forced.returncode == 0, forced.stderr
        assert_same_rows(postgres_source.rows(), without_restore_record(postgres_rows(url)))


def test_a_database_with_tables_the_backup_lacks_is_refused(postgres_backup, tmp_path):
    """pg_restore --clean would leave such a table behind, to trip the next migrate."""
    with postgres_database("newer") as url:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("CREATE TABLE tickets_from_the_future (id bigint)")
        result = manage(child_env(tmp_path, url), "restore", str(postgres_backup.path), "--force")
        assert result.returncode == 1
        assert (
            "Nothing was restored. The database has tables the backup does not "
            "(public.tickets_from_the_future)" in result.stderr
        )
        assert postgres_rows(url) == {
            "tickets_from_the_future": (["id"], []),
            "<sequences>": (["sequence", "last_value"], []),
        }


def test_a_postgresql_backup_is_refused_by_a_sqlite_installation(postgres_backup, tmp_path):
    target = tmp_path / "db.sqlite3"
    result = manage(child_env(tmp_path, sqlite_url(target)), "restore", str(postgres_backup.path))
    assert result.returncode == 1
    assert (
        f"Nothing was restored. {postgres_backup.path} is a PostgreSQL backup, but this "
        "installation uses SQLite." in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_a_dump_of_another_database_is_not_an_agent_kanban_backup(tmp_path):
    dump = tmp_path / "other.pgdump"
    with postgres_database("foreign") as url:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("CREATE TABLE notes (text text)")
            db.execute("INSERT INTO notes VALUES ('hello')")
        done = subprocess.run(
            ["pg_dump", "--format=custom", f"--file={dump}", url], capture_output=True
        )
        assert done.returncode == 0, done.stderr
    with pytest.raises(InvalidInput, match="is a pg_dump archive but not of an Agent Kanban"):
        postgres.describe(dump)


def test_missing_client_tools_get_a_clear_error(postgres_source, tmp_path):
    env = {**postgres_source.env, "PATH": str(tmp_path)}  # no pg_dump here
    result = manage(env, "backup", str(tmp_path / "b.pgdump"))
    assert result.returncode == 1
    assert "No backup was written. pg_dump is not installed or not on PATH" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "b.pgdump").exists()


def test_the_password_reaches_pg_dump_through_the_environment_only():
    settings = {
        "NAME": "kanban",
        "USER": "kanban",
        "PASSWORD": "s3cret",
        "HOST": "db.internal",
        "PORT": "6432",
        "OPTIONS": {"sslmode": "verify-full"},
    }
    env = postgres.tool_env(settings)
    assert (env["PGPASSWORD"], env["PGHOST"], env["PGPORT"]) == ("s3cret", "db.internal", "6432")
    assert (env["PGUSER"], env["PGDATABASE"], env["PGSSLMODE"]) == (
        "kanban",
        "kanban",
        "verify-full",
    )
