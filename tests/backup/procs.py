"""Real processes and real databases for the backup tests: every command runs as an
operator runs it (`manage.py` in a child process), against databases of the test's
own, so both test passes exercise both engines."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg

from tests.postgres import throwaway_database
from tests.realtime import procs as realtime_procs

ROOT = Path(__file__).resolve().parents[2]
SQLITE_MAGIC = b"SQLite format 3\x00"

Rows = dict[str, tuple[list[str], list[tuple]]]


def child_env(var_dir: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(
        DATABASE_URL=database_url,
        VAR_DIR=str(var_dir),
        DJANGO_SETTINGS_MODULE="agent_kanban.settings",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


def manage(env: dict, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


def manage_at_a_terminal(env: dict, *args: str, answer: str) -> subprocess.CompletedProcess:
    """`manage.py` with its stdin on a real pseudo-terminal, where `answer` is typed."""
    terminal, child_side = os.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            stdin=child_side,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.close(child_side)
        os.write(terminal, answer.encode() + b"\n")
        stdout, stderr = process.communicate(timeout=180)
    finally:
        os.close(terminal)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def run_django(env: dict, code: str, timeout: float = 180) -> dict:
    """Run `code` in a fresh process with Django set up; the `result` it sets comes back
    (the realtime tests' helper, with more patience for seeding whole databases)."""
    return realtime_procs.run_django(code, env, timeout)


def migrate_and_seed(env: dict) -> dict:
    done = manage(env, "migrate", "--noinput", "-v", "0")
    assert done.returncode == 0, done.stderr[-3000:]
    return run_django(env, "from tests.backup.seed import seed\nresult = seed()")


def check_restored(env: dict, seeded: dict) -> dict:
    done = manage(env, "migrate", "--check", "--noinput", "-v", "0")
    assert done.returncode == 0, done.stdout + done.stderr
    return run_django(
        env,
        "from tests.backup.seed import check\n"
        f"result = check(secret={seeded['secret']!r}, board_id={seeded['board_id']}, "
        f"max_ticket_id={seeded['max_ticket_id']})",
    )


# ---------------------------------------------------------------- PostgreSQL


# A new, empty PostgreSQL database for this test alone (its URL), dropped afterwards;
# PostgreSQL being down fails the test: there is no skip.
postgres_database = throwaway_database


def postgres_rows(url: str) -> Rows:
    """Every row of every table (and every sequence position) of the database."""
    rows: Rows = {}
    with psycopg.connect(url) as db:
        tables = db.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        ).fetchall()
        for (table,) in tables:
            cursor = db.execute(f'SELECT * FROM "{table}"')
            columns = [column.name for column in cursor.description]
            rows[table] = (columns, sorted(cursor.fetchall(), key=repr))
        sequences = db.execute(
            "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"
        ).fetchall()
        rows["<sequences>"] = (["sequence", "last_value"], sorted(sequences, key=repr))
    return rows


# ---------------------------------------------------------------- SQLite


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def sqlite_rows(path: Path) -> Rows:
    """Every row of every table of the database file, schema and sqlite_sequence too."""
    rows: Rows = {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        for (table,) in [("sqlite_master",), *tables]:
            cursor = db.execute(f'SELECT * FROM "{table}"')
            columns = [column[0] for column in cursor.description]
            rows[table] = (columns, sorted(cursor.fetchall(), key=repr))
    finally:
        db.close()
    return rows


# ---------------------------------------------------------------- comparing


_AUDIT_SEQ = "audit_auditevent_id_seq"
BACKED_UP = [
    "agents_user",
    "agents_apitoken",
    "boards_board",
    "boards_column",
    "boards_boardmembership",
    "tickets_ticket",
    "tickets_label",
    "tickets_ticket_labels",
    "tickets_ticket_blocked_by",
    "comments_comment",
    "history_tickethistory",
    "history_boardevent",
    "audit_auditevent",
]


def without_restore_record(rows: Rows) -> Rows:
    """The restored database less the one audit row the restore itself adds."""
    columns, audit = rows["audit_auditevent"]
    action = columns.index("action")
    kept = [row for row in audit if row[action] != "backup_restored"]
    assert len(audit) - len(kept) == 1, "the restore records itself in the audit log once"
    rows = {**rows, "audit_auditevent": (columns, kept)}
    # ...and so moves the audit table's id counter on by one.
    for counters, name in (("sqlite_sequence", "audit_auditevent"), ("<sequences>", _AUDIT_SEQ)):
        if counters in rows:
            names, counts = rows[counters]
            rows[counters] = (
                names,
                sorted(
                    ((key, value - 1) if key == name else (key, value) for key, value in counts),
                    key=repr,
                ),
            )
    return rows


def assert_same_rows(source: Rows, restored: Rows) -> None:
    for table in BACKED_UP:
        assert source[table][1], f"the seed left {table} empty: the comparison would prove little"
    assert sorted(restored) == sorted(source)
    for table, (columns, rows) in source.items():
        assert restored[table][0] == columns, table
        assert restored[table][1] == rows, f"{table} differs after the restore"
