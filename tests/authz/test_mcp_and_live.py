"""The authorization matrix of the MCP tools (every tool the server offers, every role,
through the SDK's in-process client) and of the WebSocket subscription."""

from collections.abc import Callable

import anyio
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from mcp import Client
from mcp.types import CallToolResult

from agent_kanban.asgi import application
from mcp_server.identity import acting_with
from mcp_server.server import build_server
from tests.authz.world import (
    LIST,
    READ,
    READERS,
    ROLES,
    WRITE,
    World,
    build_world,
    expected,
)

pytestmark = pytest.mark.django_db(transaction=True)

Args = Callable[[World], dict]


def board_arg(w: World) -> dict:
    return {"board_id": w.board.pk}


def task_arg(w: World) -> dict:
    return {"task_id": w.ticket.pk}


# tool -> (need, arguments, for LIST: whether the board is in the answer)
MCP_RULES: dict[str, tuple[str, Args, Callable[[dict, World], bool] | None]] = {
    "list_boards": (
        LIST,
        lambda w: {},
        lambda answer, w: w.board.pk in [item["id"] for item in answer["items"]],
    ),
    "get_board_state": (READ, board_arg, None),
    "list_columns": (READ, board_arg, None),
    "list_tasks": (READ, board_arg, None),
    "search_tasks": (READ, lambda w: {"query": "needle", "board_id": w.board.pk}, None),
    "get_task": (READ, task_arg, None),
    "create_task": (WRITE, lambda w: {"board_id": w.board.pk, "title": "By MCP"}, None),
    "edit_task": (WRITE, lambda w: {"task_id": w.ticket.pk, "title": "Edited"}, None),
    "update_task_status": (WRITE, lambda w: {"task_id": w.ticket.pk, "column": "Testing"}, None),
    "claim_task": (WRITE, task_arg, None),  # the first writer holds it; later ones get 409
    "claim_next_task": (WRITE, board_arg, None),
    "heartbeat": (WRITE, task_arg, None),
    # Only the claimant reports: 409 not_claimant for every other writer.
    "report_progress": (WRITE, lambda w: {"task_id": w.ticket.pk, "status": "Busy"}, None),
    "get_board_events": (READ, board_arg, None),
    "create_subtasks": (
        WRITE,
        lambda w: {"task_id": w.ticket.pk, "subtasks": [{"title": "Part"}]},
        None,
    ),
    # Waits on a board it could claim from; returns at once with the ready ticket.
    "wait_for_work": (WRITE, lambda w: {"board_id": w.board.pk, "timeout_seconds": 1}, None),
    "release_task": (WRITE, task_arg, None),
    # Not in a review column: 409 not_in_review, for whoever may write.
    "review_task": (WRITE, lambda w: {"task_id": w.ticket.pk, "decision": "approve"}, None),
    "add_comment": (WRITE, lambda w: {"task_id": w.ticket.pk, "text": "Note"}, None),
    "add_dependency": (
        WRITE,
        lambda w: {"task_id": w.ticket.pk, "blocked_by_task_id": w.blocker.pk},
        None,
    ),
    "remove_dependency": (
        WRITE,
        lambda w: {"task_id": w.ticket.pk, "blocked_by_task_id": w.blocker.pk},
        None,
    ),
}


@pytest.fixture(autouse=True)
def fast_and_clean(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.RATELIMIT_ENABLE = False
    yield
    # The tools ran in Django's database thread: close its connection as a request would.
    anyio.run(database_sync_to_async(connections.close_all))


async def _tool_names() -> set[str]:
    async with Client(build_server()) as client:
        return {tool.name for tool in (await client.list_tools()).tools}


def call(secret: str, name: str, arguments: dict) -> CallToolResult:
    async def go() -> CallToolResult:
        async with Client(build_server()) as client:
            return await client.call_tool(name, arguments)

    with acting_with(secret):
        return anyio.run(go)


def mcp_outcome(result: CallToolResult) -> int | str:
    """The tool's answer the way the REST API would have put it."""
    if not result.is_error:
        return "allow"
    family = result.content[0].text.split(":")[0].split("/")[0]
    return {"not_found": 404, "forbidden": 403}.get(family, "allow")


def test_every_tool_has_a_rule():
    assert anyio.run(_tool_names) == set(MCP_RULES)


def test_tool_matrix():
    world = build_world(tokens_for_everyone=True)
    results, wanted = {}, {}
    for name, (need, arguments, visible) in MCP_RULES.items():
        for role in ROLES:
            result = call(world.secrets[role], name, arguments(world))
            got, want = mcp_outcome(result), expected(need, role)
            if visible is not None and got == "allow":
                got, want = (
                    (got, visible(result.structured_content, world)),
                    (
                        want,
                        role in READERS,
                    ),
                )
            results[name, role], wanted[name, role] = got, want
    assert results == wanted


# ---------------------------------------------------------------- WebSocket


async def _socket(path: str, secret: str) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(
        application, path, headers=[(b"authorization", f"Bearer {secret}".encode())]
    )
    connected, _ = await socket.connect()
    assert connected
    return socket


async def _until_closed(socket: WebsocketCommunicator, board_id: int) -> list:
    """What the server says before it closes, with the board's id written as <id>."""
    said = []
    while True:
        output = await socket.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            return [*said, output.get("code")]
        said.append(output["text"].replace(str(board_id), "<id>"))


async def _first(socket: WebsocketCommunicator) -> dict:
    """The first answer that is not a heartbeat, or the close code."""
    while True:
        output = await socket.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            return {"closed": output.get("code")}
        message = __import__("json").loads(output["text"])
        if message.get("type") != "heartbeat":
            return message


@pytest.mark.parametrize("role", ROLES)
async def test_websocket_subscription(role):
    world = await database_sync_to_async(build_world)(tokens_for_everyone=True)
    secret, board_id = world.secrets[role], world.board.pk
    by_query = await _socket(f"/ws/connect?board_id={board_id}", secret)
    missing = await _socket("/ws/connect?board_id=999999", secret)
    by_message = await _socket("/ws/connect", secret)
    try:
        if role in READERS:
            answer = await _first(by_query)
            assert answer["type"] == "subscribed" and answer["board_id"] == board_id
        else:
            # Word for word what a board that does not exist gets, then the same close.
            said = await _until_closed(by_query, board_id)
            assert said == await _until_closed(missing, 999999)
            assert said[-1] == 4404
        await by_message.send_json_to({"type": "subscribe_board", "board_id": board_id})
        await by_message.send_json_to({"type": "subscribe_board", "board_id": 999999})
        reply, reply_missing = await _first(by_message), await _first(by_message)
    finally:
        for socket in (by_query, missing, by_message):
            await socket.disconnect()
        await database_sync_to_async(connections.close_all)()
    if role in READERS:
        assert reply["type"] == "subscribed"
    else:
        assert reply == {**reply_missing, "message": f"Board {board_id} does not exist."}
        assert (reply["type"], reply["code"]) == ("error", "board_not_found")
