"""`manage.py backup` and `restore` on SQLite: the online backup API to a file, and
back into a fresh database file, compared row by row."""

import sqlite3
import stat

import pytest

from backups import sqlite as sqlite_backup
from core.errors import InvalidInput
from tests.backup.procs import (
    SQLITE_MAGIC,
    assert_same_rows,
    check_restored,
    child_env,
    manage,
    manage_at_a_terminal,
    postgres_database,
    run_django,
    sqlite_rows,
    sqlite_url,
    without_restore_record,
)


def copy_of(source, path):
    """A database file holding what `source` holds (made without the code under test)."""
    with sqlite3.connect(source.path) as live, sqlite3.connect(path) as copy:
        live.backup(copy)
    return path


def test_backup_then_restore_into_a_fresh_database_keeps_every_row(
    sqlite_source, sqlite_backup, tmp_path
):
    backup = sqlite_backup.path
    assert f"Backed up the SQLite database to {backup}" in sqlite_backup.stdout
    assert "Backing up: 0% (0/" in sqlite_backup.stderr
    assert "Backing up: 100% (" in sqlite_backup.stderr
    assert backup.read_bytes()[:16] == SQLITE_MAGIC
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600  # it holds password hashes
    assert not list(backup.parent.glob(".*partial*"))

    target = tmp_path / "restored" / "agent_kanban.sqlite3"
    target.parent.mkdir()
    env = child_env(target.parent, sqlite_url(target))
    restored = manage(env, "restore", str(backup), "--noinput")
    assert restored.returncode == 0, restored.stderr
    assert f"Restored the SQLite database from {backup}" in restored.stdout
    assert "Restoring: 100% (" in restored.stderr and "pages)" in restored.stderr

    assert_same_rows(sqlite_source.rows(), without_restore_record(sqlite_rows(target)))
    assert check_restored(env, sqlite_source.seeded) == {
        "agent": "claude-backup",
        "board": "Shop",
        "new_id_is_fresh": True,
        "tickets": 24,  # 23 restored (one was deleted before the backup) and one new
    }


def test_restore_replaces_a_database_with_data_only_when_forced(
    sqlite_source, sqlite_backup, tmp_path
):
    target = copy_of(sqlite_source, tmp_path / "target.sqlite3")
    env = child_env(tmp_path, sqlite_url(target))
    run_django(
        env,
        "from boards.models import Board\nfrom tickets.services import ticket_create\n"
        "board = Board.objects.get(name='Shop')\n"
        "ticket_create(actor=board.created_by, board_id=board.pk, title='Only here')",
    )
    before = sqlite_rows(target)

    refused = manage(env, "restore", str(sqlite_backup.path))  # no terminal to ask on
    assert refused.returncode == 1
    assert "Nothing was restored. The database is not empty (4 users" in refused.stderr
    assert "Pass --force to replace it." in refused.stderr
    assert "Traceback" not in refused.stderr
    assert sqlite_rows(target) == before

    forced = manage(env, "restore", str(sqlite_backup.path), "--force")
    assert forced.returncode == 0, forced.stderr
    rows = sqlite_rows(target)
    titles = [row[rows["tickets_ticket"][0].index("title")] for row in rows["tickets_ticket"][1]]
    assert "Only here" not in titles
    assert_same_rows(sqlite_source.rows(), without_restore_record(rows))


def test_at_a_terminal_the_operator_is_asked_first(sqlite_source, sqlite_backup, tmp_path):
    target = copy_of(sqlite_source, tmp_path / "target.sqlite3")
    env = child_env(tmp_path, sqlite_url(target))
    run_django(env, "from tests.factories import make_user\nmake_user('only-here')")
    before = sqlite_rows(target)

    declined = manage_at_a_terminal(env, "restore", str(sqlite_backup.path), answer="no")
    assert declined.returncode == 1
    assert "The database holds 5 users, 2 boards, 24 tickets." in declined.stdout
    assert "Type 'yes' to continue" in declined.stdout
    assert "Restore cancelled; nothing was changed." in declined.stderr
    assert sqlite_rows(target) == before

    agreed = manage_at_a_terminal(env, "restore", str(sqlite_backup.path), answer="yes")
    assert agreed.returncode == 0, agreed.stderr
    assert_same_rows(sqlite_source.rows(), without_restore_record(sqlite_rows(target)))


def test_a_damaged_backup_is_refused_before_the_database_is_touched(
    sqlite_source, sqlite_backup, tmp_path
):
    damaged = tmp_path / "damaged.sqlite3"
    data = sqlite_backup.path.read_bytes()
    damaged.write_bytes(data[: len(data) // 2])
    target = copy_of(sqlite_source, tmp_path / "target.sqlite3")
    before = sqlite_rows(target)

    result = manage(child_env(tmp_path, sqlite_url(target)), "restore", str(damaged), "--force")
    assert result.returncode == 1
    assert "Nothing was restored." in result.stderr and "Traceback" not in result.stderr
    assert sqlite_rows(target) == before


def test_a_sqlite_backup_is_refused_by_a_postgresql_installation(sqlite_backup, tmp_path):
    with postgres_database("mismatch") as url:
        result = manage(child_env(tmp_path, url), "restore", str(sqlite_backup.path), "--force")
    assert result.returncode == 1
    assert (
        f"Nothing was restored. {sqlite_backup.path} is a SQLite backup, but this "
        "installation uses PostgreSQL." in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_a_sqlite_file_of_another_application_is_not_a_backup(tmp_path):
    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE notes (text TEXT)").connection.close()
    with pytest.raises(InvalidInput, match="is a SQLite database but not an Agent Kanban one"):
        sqlite_backup.describe(other)


def test_the_copy_is_one_snapshot_while_other_connections_write(sqlite_source, tmp_path):
    """The server keeps writing during a backup (WAL): those writes neither stop the
    copy nor restart it, and the copy is the database as it was when it began."""
    live = copy_of(sqlite_source, tmp_path / "live.sqlite3")
    writer = sqlite3.connect(live, isolation_level=None)
    assert writer.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
    steps = []

    def write_between_steps(done: int, total: int) -> None:
        steps.append((done, total))
        writer.execute(
            "INSERT INTO django_migrations (app, name, applied) VALUES (?, ?, ?)",
            ("written", f"during step {len(steps)}", "2026-01-01 00:00:00"),
        )

    backup = tmp_path / "snapshot.sqlite3"
    pages = sqlite_backup.backup(str(live), backup, write_between_steps)
    writer.close()

    assert len(steps) > 3 and steps[-1] == (pages, pages)
    assert [done for done, _ in steps] == sorted(done for done, _ in steps)  # no restart
    written = "SELECT count(*) FROM django_migrations WHERE app = 'written'"
    assert sqlite3.connect(live).execute(written).fetchone() == (len(steps),)
    assert sqlite3.connect(backup).execute(written).fetchone() == (0,)
    assert sqlite_rows(backup)["tickets_ticket"] == sqlite_rows(live)["tickets_ticket"]
