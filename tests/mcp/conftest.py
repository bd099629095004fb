import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx
import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection, connections

from tests.conftest import join_team
from tests.factories import make_agent, make_board, make_user

BASE_DIR = Path(settings.BASE_DIR)


@pytest.fixture(autouse=True)
def close_tool_thread_connections():
    """In-process tool calls ran in database threads; close their connections as a
    request would, or PostgreSQL cannot drop the test database at the end."""
    yield
    anyio.run(database_sync_to_async(connections.close_all))


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The shared fixtures create users with passwords; the default hasher is slow on purpose.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def database_url() -> str:
    """The URL of the database this test uses, for processes started by the test."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return (
        f"postgresql://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


def server_env(**extra: str) -> dict[str, str]:
    """The environment of a server process that shares this test's database."""
    env = {
        "DATABASE_URL": database_url(),
        "VAR_DIR": str(settings.VAR_DIR),
        "DJANGO_SETTINGS_MODULE": "agent_kanban.settings",
        "PYTHONUNBUFFERED": "1",
    }
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    env.update(extra)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"daphne exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/api/health/simple", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"daphne did not answer within 30 s:\n{log.read_text()}")


@pytest.fixture
def start_daphne(transactional_db, tmp_path):
    """Start real daphne processes on free ports over this test's database; each is
    killed when the test ends. Returns the base URL."""
    processes: list[subprocess.Popen] = []

    def start(**extra_env: str) -> str:
        port = _free_port()
        log = tmp_path / f"daphne-{port}.log"
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
        process = subprocess.Popen(
            [*command, "agent_kanban.asgi:application"],
            cwd=BASE_DIR,
            env={**os.environ, **server_env(**extra_env)},
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(url, process, log)
        return url

    try:
        yield start
    finally:
        for process in processes:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def daphne_url(start_daphne) -> str:
    return start_daphne()


@pytest.fixture
def owner(transactional_db):
    return make_user("owner")


@pytest.fixture
def work_board(owner, request):
    """A board with Backlog, In Progress, Done."""
    board = make_board(owner, "Work", columns=["Backlog", "In Progress", "Done"])
    join_team(board, request)
    return board


@pytest.fixture
def agent(transactional_db):
    """An agent and its token secret."""
    return make_agent("bot-1")


@pytest.fixture
def other_agent(transactional_db):
    return make_agent("bot-2")
