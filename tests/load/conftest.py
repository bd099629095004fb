"""The load suite's own PostgreSQL database (whatever the pass: the suite runs once, in
the first), its agents, and the servers they work against."""

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from tests.realtime.procs import ROOT, process_env, run_django

POSTGRES_ADMIN_URL = os.environ.get(
    "POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
AGENTS = 64

SEED = """
from agents.services import agent_create
from boards.models import Role
from boards.services import board_create, membership_set
from django.contrib.auth import get_user_model

owner = get_user_model().objects.create_user("load-owner", password="x" * 12)
board = board_create(actor=owner, name="Load")
secrets = []
for number in range(AGENTS):
    issued = agent_create(username=f"load-agent-{number}")
    membership_set(
        actor=owner, board_id=board.pk, user_id=issued.token.user.pk, role=Role.AGENT
    )
    secrets.append(issued.secret)
result = {"board_id": board.pk, "secrets": secrets}
"""


@dataclass
class Team:
    database: str  # DATABASE_URL
    name: str  # the database's name
    board_id: int
    secrets: list[str]


def admin_sql(sql: str, *params) -> list[tuple]:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        cursor = admin.execute(sql, params or None)
        return cursor.fetchall() if cursor.description else []


def backends(name: str) -> int:
    """Client connections open to the database `name` right now."""
    rows = admin_sql(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND backend_type = %s",
        name,
        "client backend",
    )
    return rows[0][0]


def seed_team(database: str, name: str, folder) -> Team:
    """Migrate the database at `database` and put a board with AGENTS agents on it."""
    env = process_env(folder, database=database)
    migrate = [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"]
    done = subprocess.run(migrate, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    seeded = run_django(f"AGENTS = {AGENTS}\n{SEED}", env)
    return Team(database, name, seeded["board_id"], seeded["secrets"])


@pytest.fixture(scope="module")
def team(tmp_path_factory) -> Iterator[Team]:
    """A fresh PostgreSQL database with a board and AGENTS agents on it."""
    name = f"test_ak_load_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin_sql(f'CREATE DATABASE "{name}"')
    url = f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    try:
        yield seed_team(url, name, tmp_path_factory.mktemp("load"))
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def sqlite_team(tmp_path_factory) -> Team:
    """The same on a SQLite file of its own (the embedded shape)."""
    folder = tmp_path_factory.mktemp("load-sqlite")
    path = folder / "load.sqlite3"
    return seed_team(f"sqlite:///{path}", str(path), folder)
