"""A real daphne over a database of its own, for the tests that attack the running
server: SQLite in a temporary folder, or a fresh PostgreSQL database beside the test
database when the suite runs on PostgreSQL (dropped afterwards)."""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.db import connection

from tests.postgres import throwaway_database
from tests.realtime.procs import ROOT, channel_prefix, daphne_servers, process_env, run_django

SEED = """
from agents.services import agent_create, token_issue
from tests.factories import make_board, make_ticket
from comments.services import comment_create

issued = agent_create(username="fuzzer")
agent = issued.token.user
board = make_board(agent, "Fuzzed", columns=["Backlog", "Doing", "Done"])
tickets = [make_ticket(agent, board, f"Card {n}", labels=["api"]) for n in range(3)]
comment = comment_create(actor=agent, ticket_id=tickets[0].pk, text="First!")
spare = token_issue(actor=None, user=agent, name="spare")
result = {
    "secret": issued.secret,
    "user_id": agent.pk,
    "board_id": board.pk,
    "ticket_ids": [t.pk for t in tickets],
    "comment_id": comment.pk,
    "token_id": issued.token.pk,
    "spare_token_id": spare.token.pk,
}
"""


@dataclass(frozen=True)
class Server:
    url: str
    secret: str
    user_id: int
    board_id: int
    ticket_ids: list[int]
    comment_id: int
    token_id: int
    spare_token_id: int

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}


@contextmanager
def _own_database(tmp_path: Path) -> Iterator[str]:
    """A DATABASE_URL for an empty database that only this server uses."""
    if connection.vendor == "sqlite":
        yield f"sqlite:///{tmp_path / 'server.sqlite3'}"
        return
    with throwaway_database("security") as url:
        yield url


@contextmanager
def running_server(tmp_path: Path, **settings: str) -> Iterator[Server]:
    """Migrate, seed an agent with a board of three cards, and serve it with daphne."""
    with _own_database(tmp_path) as database:
        redis = os.environ.get("REDIS_URL")
        env = process_env(
            tmp_path,
            database=database,
            redis=redis,
            CHANNEL_LAYER_PREFIX=channel_prefix(),
            CACHE_KEY_PREFIX=channel_prefix(),
            DEBUG="false",  # as in production: no technical error pages
            **settings,
        )
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert migrate.returncode == 0, migrate.stderr[-3000:]
        seeded = run_django(SEED, env)
        with daphne_servers(1, env, tmp_path) as (daphne,):
            yield Server(url=daphne.http, **seeded)
