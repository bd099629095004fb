"""Issue 19, point 8: MCP tool calls must not hold the thread WebSocket consumers query
the database on. Here a real daphne holds more long MCP calls at once (`wait_for_work`
on an empty board, over the official SDK's streamable HTTP client) than the default
thread pool has threads, and a WebSocket watcher that connects meanwhile gets its first
message before any of those calls has ended."""

import json

import anyio
import pytest
from websockets.sync.client import connect

from tests.hardening.test_outage_logs import seeded
from tests.mcp.helpers import http_session
from tests.realtime.procs import daphne_servers, process_env

# More than asyncio's default pool (min(32, cpus + 4)) on this machine.
CALLS = 12
WAIT_SECONDS = 20


@pytest.mark.timeout(300)
def test_a_watcher_is_answered_while_long_mcp_calls_are_running(tmp_path):
    env = process_env(tmp_path, database=f"sqlite:///{tmp_path / 'executors.sqlite3'}")
    team = seeded(env)
    secret, board = team["secret"], team["board_id"]
    order: list[str] = []

    def watch(url: str) -> dict:
        headers = {"Authorization": f"Bearer {secret}"}
        with connect(
            f"{url}/ws/connect?board_id={board}&since=0", additional_headers=headers
        ) as socket:
            return json.loads(socket.recv(timeout=60))

    async def scenario(server) -> tuple[dict, list]:
        results: list = []
        async with anyio.create_task_group() as group:

            async def wait_for_work() -> None:
                async with http_session(server.http, secret) as session:
                    arguments = {"board_id": board, "timeout_seconds": WAIT_SECONDS}
                    result = await session.call_tool("wait_for_work", arguments)
                    order.append("mcp call ended")
                    results.append(result)

            for _ in range(CALLS):
                group.start_soon(wait_for_work)
            await anyio.sleep(2)  # let the calls reach the server (not an assertion)
            first = await anyio.to_thread.run_sync(watch, server.ws)
            order.append("websocket answered")
        return first, results

    with daphne_servers(1, env, tmp_path) as [server]:
        first, results = anyio.run(scenario, server)

    assert order[0] == "websocket answered", order
    assert order.count("mcp call ended") == CALLS
    assert isinstance(first, dict) and first, first
    assert all(not result.is_error for result in results), results
    assert all(result.structured_content["task"] is None for result in results), results
