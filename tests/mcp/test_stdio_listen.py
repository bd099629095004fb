"""`subscriptions/listen` over stdio: an agent launched as `manage.py mcp` by the SDK's
client hears of the changes to the board it listens to."""

import os
import sys

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.shared.subscriptions import ResourceUpdated

from tests.factories import make_ticket
from tests.mcp.conftest import BASE_DIR, server_env
from tests.mcp.helpers import data
from tickets.services import ticket_move

pytestmark = pytest.mark.django_db(transaction=True)


def _launch(secret: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["manage.py", "mcp"],
        cwd=BASE_DIR,
        env=server_env(AGENT_KANBAN_TOKEN=secret),
    )


async def _heard(stream, within: float = 15) -> list[str]:
    seen: list[str] = []
    with anyio.move_on_after(within):
        async for event in stream:
            assert isinstance(event, ResourceUpdated)
            seen.append(event.uri)
            break
    return seen


def test_a_stdio_agent_hears_its_own_writes_and_with_redis_another_process_writes(
    owner, work_board, agent
):
    _, secret = agent
    ticket = make_ticket(owner, work_board, "Watched over stdio")
    board_uri = f"kanban://boards/{work_board.pk}"
    # On the in-memory layer of the embedded shape only the server's own writes reach
    # it; with Redis, so do those of any other process (this test's, here).
    across_processes = bool(os.environ.get("REDIS_URL"))

    def move_elsewhere() -> None:
        ticket_move(actor=owner, ticket_id=ticket.pk, column="In Progress")

    async def listen() -> tuple[list[str], list[str]]:
        async with (
            Client(_launch(secret)) as client,
            client.listen(resource_subscriptions=[board_uri]) as stream,
        ):
            made = data(
                await client.call_tool(
                    "create_task", {"board_id": work_board.pk, "title": "Made over stdio"}
                )
            )
            assert made["task"]["title"] == "Made over stdio"
            own = await _heard(stream)
            other: list[str] = []
            if across_processes:
                await anyio.to_thread.run_sync(move_elsewhere)
                other = await _heard(stream)
            return own, other

    own, other = anyio.run(listen)
    assert own == [board_uri]
    assert other == ([board_uri] if across_processes else [])
