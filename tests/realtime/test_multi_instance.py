"""The production shape: two daphne processes, one PostgreSQL, one Redis. Clients on
either instance receive, in order and complete, the writes made through the other.

It runs in both passes: on the SQLite pass it makes a PostgreSQL database of its own,
because that shape has no SQLite form (the in-memory channel layer cannot reach
across processes)."""

import json
import subprocess
import sys

import httpx
import pytest
from django.db import connection
from websockets.sync.client import connect

from tests.postgres import throwaway_database
from tests.realtime.procs import (
    REDIS_URL,
    ROOT,
    channel_prefix,
    daphne_servers,
    database_url,
    process_env,
    run_django,
)

pytestmark = pytest.mark.django_db(transaction=True)

WRITES = 20

SEED = """
import uuid
from agents.services import agent_create
from boards.services import board_create
issued = agent_create(username="multi-" + uuid.uuid4().hex[:8])
board = board_create(actor=issued.token.user, name="Shared")
result = {"secret": issued.secret, "board_id": board.pk, "agent": issued.token.user.username}
"""


@pytest.fixture
def postgres_database(transactional_db, tmp_path):
    """DATABASE_URL of the PostgreSQL database both instances share."""
    if connection.vendor == "postgresql":
        yield database_url()  # the test database
        return
    with throwaway_database("multi") as url:
        env = process_env(tmp_path, database=url)
        migrate = [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"]
        done = subprocess.run(migrate, cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
        yield url


def receive_events(socket, count: int) -> list[dict]:
    events = []
    while len(events) < count:
        message = json.loads(socket.recv(timeout=15))
        if "event" in message:
            events.append(message)
    return events


def test_clients_on_one_instance_receive_writes_made_through_the_other(postgres_database, tmp_path):
    env = process_env(
        tmp_path,
        database=postgres_database,
        redis=REDIS_URL,
        CHANNEL_LAYER_PREFIX=channel_prefix(),
        WS_HEARTBEAT_SECONDS=3600,  # only the push through Redis can deliver in time
    )
    seed = run_django(SEED, env)
    auth = {"Authorization": f"Bearer {seed['secret']}"}
    path = f"/ws/connect?board_id={seed['board_id']}&since=1"
    with (
        daphne_servers(2, env, tmp_path) as (a, b),
        connect(a.ws + path, additional_headers=auth) as on_a,
        connect(b.ws + path, additional_headers=auth) as on_b,
    ):
        for socket in (on_a, on_b):
            assert json.loads(socket.recv(timeout=15))["type"] == "subscribed"
        for number in range(WRITES):
            ticket = {"board_id": seed["board_id"], "title": f"Via B {number}"}
            created = httpx.post(f"{b.http}/api/tickets/", json=ticket, headers=auth, timeout=30)
            assert created.status_code == 201, created.text
        ticket = {"board_id": seed["board_id"], "title": "Via A"}
        assert httpx.post(
            f"{a.http}/api/tickets/", json=ticket, headers=auth, timeout=30
        ).is_success

        expected = [f"Via B {number}" for number in range(WRITES)] + ["Via A"]
        for socket in (on_a, on_b):
            events = receive_events(socket, WRITES + 1)
            assert [e["seq"] for e in events] == list(range(2, WRITES + 3))
            assert [e["data"]["title"] for e in events] == expected
            assert {e["actor"] for e in events} == {seed["agent"]}
        # Each instance counts its own connections.
        for server in (a, b):
            health = httpx.get(f"{server.http}/api/health/", timeout=30).json()
            assert health["checks"]["websocket"]["open"] == 1, health
            assert health["checks"]["channel_layer"]["backend"] == "RedisChannelLayer"
