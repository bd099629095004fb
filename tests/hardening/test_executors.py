"""Issue 19, point 8: MCP tool calls that wait must not hold the threads watchers are
answered on. A real daphne on PostgreSQL, with MCP_THREADS=2 and asyncio's default pool
(ASGI_THREADS) of 2: the test holds a ticket's row lock, so MCP edits of that ticket wait
inside the database on every thread MCP has, and more queue behind them. Meanwhile a
WebSocket watcher (queries on the thread-sensitive thread) and an event stream (reads on
the default pool) must each get their replay. When MCP ran on the default pool, the
stream waited for the lock; on the thread-sensitive thread, the WebSocket did."""

import json
import time

import anyio
import httpx
import psycopg
import pytest
from websockets.sync.client import connect

from tests.hardening.test_outage_logs import seeded
from tests.mcp.helpers import http_session
from tests.postgres import throwaway_database
from tests.realtime.procs import daphne_servers, process_env
from tickets.models import Ticket

pytestmark = pytest.mark.own_postgres

MCP_THREADS = 2
CALLS = 4  # two wait on the lock, two queue for MCP's threads
ANSWER_SECONDS = 15


def waiting_on_locks(database: str, count: int, timeout: float = 30) -> None:
    """Until `count` backends of `database` wait for a lock."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(database, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            (waiting,) = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            if waiting >= count:
                return
            time.sleep(0.05)
    raise AssertionError(
        f"fewer than {count} MCP calls came to wait for the row lock: MCP is not running"
        " on a pool of MCP_THREADS threads"
    )


def websocket_replay(server, secret: str, board: int) -> dict:
    headers = {"Authorization": f"Bearer {secret}"}
    url = f"{server.ws}/ws/connect?board_id={board}&since=0"
    with connect(url, additional_headers=headers) as socket:
        return json.loads(socket.recv(timeout=ANSWER_SECONDS))


def stream_replay(server, secret: str, board: int) -> str:
    headers = {"Authorization": f"Bearer {secret}"}
    url = f"{server.http}/api/boards/{board}/events?since=0"
    with httpx.stream("GET", url, headers=headers, timeout=ANSWER_SECONDS) as response:
        assert response.status_code == 200, response.read()[:500]
        for line in response.iter_lines():
            if line.startswith("event: "):
                return line.removeprefix("event: ")
    raise AssertionError("the stream ended without an event")


@pytest.mark.timeout(300)
def test_watchers_are_answered_while_mcp_calls_wait_on_every_mcp_thread(tmp_path):
    with throwaway_database("h8_executors") as database:
        env = process_env(
            tmp_path, database=database, MCP_THREADS=MCP_THREADS, ASGI_THREADS=MCP_THREADS
        )
        team = seeded(env)
        secret, board = team["secret"], team["board_id"]
        with daphne_servers(1, env, tmp_path) as [server]:
            created = httpx.post(
                f"{server.http}/api/tickets/",
                json={"board_id": board, "title": "Locked"},
                headers={"Authorization": f"Bearer {secret}"},
                timeout=30,
            )
            assert created.status_code == 201, created.text
            ticket = created.json()["id"]
            answers, edits = anyio.run(
                scenario, server, database, secret, board, ticket, backend="asyncio"
            )

    assert answers["websocket"]["event"] == "board_created", answers
    assert answers["stream"] == "board_created", answers
    assert len(edits) == CALLS, edits
    assert all(not edit.is_error for edit in edits), [edit.content for edit in edits]


async def scenario(server, database: str, secret: str, board: int, ticket: int):
    answers: dict = {}
    edits: list = []
    with psycopg.connect(database) as holder:
        holder.execute(f"SELECT id FROM {Ticket._meta.db_table} WHERE id = %s FOR UPDATE", [ticket])
        try:
            async with anyio.create_task_group() as group:

                async def edit(number: int) -> None:
                    async with http_session(server.http, secret) as session:
                        arguments = {"task_id": ticket, "title": f"edit {number}"}
                        edits.append(await session.call_tool("edit_task", arguments))

                for number in range(CALLS):
                    group.start_soon(edit, number)
                await anyio.to_thread.run_sync(waiting_on_locks, database, MCP_THREADS)
                try:
                    answers["websocket"] = await anyio.to_thread.run_sync(
                        websocket_replay, server, secret, board
                    )
                    answers["stream"] = await anyio.to_thread.run_sync(
                        stream_replay, server, secret, board
                    )
                finally:
                    # The edits go on, answers or not, so the task group can end.
                    holder.rollback()
        finally:
            holder.rollback()
    return answers, edits
