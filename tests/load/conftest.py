"""The load suite's own PostgreSQL database (whatever the pass: the suite runs once, in
the first), its agents, and the servers they work against."""

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.postgres import admin_sql, throwaway_database
from tests.realtime.procs import ROOT, process_env, run_django

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
    with throwaway_database("load") as url:
        yield seed_team(url, url.rsplit("/", 1)[1], tmp_path_factory.mktemp("load"))


@pytest.fixture(scope="module")
def sqlite_team(tmp_path_factory) -> Team:
    """The same on a SQLite file of its own (the embedded shape)."""
    folder = tmp_path_factory.mktemp("load-sqlite")
    path = folder / "load.sqlite3"
    return seed_team(f"sqlite:///{path}", str(path), folder)
