"""The commands as operators meet them, on whichever engine this test pass uses:
clear errors for files that cannot be used, progress on stderr, quiet at -v 0."""

import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tests.backup.procs import SQLITE_MAGIC, child_env, manage, sqlite_url

MAGIC = {"sqlite": SQLITE_MAGIC, "postgresql": b"PGDMP"}
UNIT = {"sqlite": "pages", "postgresql": "tables"}


@pytest.mark.django_db(transaction=True)
def test_backup_of_this_pass_database_shows_progress_on_stderr(board, tmp_path):
    out, err = io.StringIO(), io.StringIO()
    call_command("backup", str(tmp_path / "b"), stdout=out, stderr=err)
    assert (tmp_path / "b").read_bytes().startswith(MAGIC[connection.vendor])
    assert "Backed up the" in out.getvalue() and "Backing up" not in out.getvalue()
    lines = err.getvalue().splitlines()
    assert lines[0].startswith("Backing up: 0% (0/")
    assert lines[-1].startswith("Backing up: 100% (") and lines[-1].endswith(
        f"{UNIT[connection.vendor]})"
    )


@pytest.mark.django_db
def test_backup_at_verbosity_zero_prints_no_progress(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    call_command("backup", str(tmp_path / "b"), verbosity=0, stdout=out, stderr=err)
    assert err.getvalue() == "" and "Backed up the" in out.getvalue()


def test_restoring_a_missing_file_says_so(tmp_path):
    missing = tmp_path / "nope.backup"
    with pytest.raises(
        CommandError, match=re.escape(f"Nothing was restored. {missing} does not exist.")
    ):
        call_command("restore", str(missing), "--force")


def test_restoring_a_file_that_is_no_backup_says_so(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n")
    with pytest.raises(CommandError, match=re.escape("is not a backup made by `manage.py backup`")):
        call_command("restore", str(notes), "--force")
    with pytest.raises(CommandError, match="is a directory, not a backup file"):
        call_command("restore", str(tmp_path), "--force")


def test_backup_to_a_missing_directory_or_a_directory_says_so(tmp_path):
    with pytest.raises(CommandError, match=r"No backup was written\. The directory .* does not"):
        call_command("backup", str(tmp_path / "no" / "such" / "b.backup"))
    with pytest.raises(CommandError, match="is a directory; give the backup a file name"):
        call_command("backup", str(tmp_path))


def test_a_real_process_exits_1_with_the_message_and_no_traceback(tmp_path):
    env = child_env(tmp_path, sqlite_url(tmp_path / "db.sqlite3"))
    result = manage(env, "restore", str(tmp_path / "nope.sqlite3"))
    assert result.returncode == 1
    assert f"Nothing was restored. {tmp_path / 'nope.sqlite3'} does not exist." in result.stderr
    assert "Traceback" not in result.stderr
