"""The MCP resources: the boards, a board at a glance, what is ready on it, one task,
each as JSON, read with the same rules as the tools (a board the caller may not read
does not exist), and which of them a board event touches, for `subscriptions/listen`."""

import json
import re

from django.core.serializers.json import DjangoJSONEncoder
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError

from boards import access
from boards.events import board_last_seq
from boards.models import Board
from core.errors import NotFound
from core.ids import is_id
from mcp_server import tools
from mcp_server.identity import current_actor
from mcp_server.threads import on_mcp_threads
from mcp_server.work import ready_now
from tickets.selectors import ticket_get

JSON = "application/json"
BOARDS = "kanban://boards"
_BOARD = re.compile(r"kanban://boards/(\d{1,19})")
_READY = re.compile(r"kanban://boards/(\d{1,19})/ready")
_TASK = re.compile(r"kanban://tasks/(\d{1,19})")


def board_uri(board_id: int) -> str:
    return f"{BOARDS}/{board_id}"


def ready_uri(board_id: int) -> str:
    return f"{BOARDS}/{board_id}/ready"


def task_uri(task_id: int) -> str:
    return f"kanban://tasks/{task_id}"


def uris_touched(message: dict) -> list[str]:
    """The resources a board event (the message `boards.events` publishes) may have
    changed: the board, what is ready on it, the boards list (its counts), and the
    tasks it names."""
    board_id = message["board_id"]
    touched = [BOARDS, board_uri(board_id), ready_uri(board_id)]
    data = message.get("data") or {}
    if message["event"].startswith("ticket_") and "id" in data:
        touched.append(task_uri(data["id"]))
    if "ticket_id" in data:
        touched.append(task_uri(data["ticket_id"]))
    touched.extend(task_uri(task_id) for task_id in data.get("ticket_ids") or ())
    return touched


def listened_boards(actor, uris: list[str]) -> tuple[list[str], set[int]]:
    """Of the URIs a listen asks for, those of this server that `actor` may read, and
    the boards they are on. Any other URI is left out: it would never fire, and an
    unreadable board's must not."""
    kept, boards = [], set()
    for uri in dict.fromkeys(uris):
        board_id = _board_of(actor, uri)
        if board_id is not None:
            kept.append(uri)
            boards.update(board_id)
    return kept, boards


def _board_of(actor, uri: str) -> set[int] | None:
    if uri == BOARDS:
        return set(access.readable_boards(Board.objects.all(), actor).values_list("pk", flat=True))
    match = _BOARD.fullmatch(uri) or _READY.fullmatch(uri)
    if match and is_id(int(match[1])) and access.can(actor, int(match[1]), access.READ):
        return {int(match[1])}
    match = _TASK.fullmatch(uri)
    if match and is_id(int(match[1])):
        try:
            return {ticket_get(actor=actor, ticket_id=int(match[1])).board_id}
        except NotFound:
            return None
    return None


# ---------------------------------------------------------------- reading


def _read(body, *arguments) -> str:
    try:
        shown = body(current_actor(), *arguments)
    except NotFound as error:
        raise ResourceNotFoundError(error.message) from error
    return json.dumps(shown, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def _as_id(text: str, name: str) -> int:
    value = int(text) if text.isascii() and text.isdecimal() and len(text) <= 19 else 0
    if not is_id(value):
        raise ResourceNotFoundError(f"{name} must be a positive whole number.")
    return value


def boards_read(actor) -> dict:
    return tools.list_boards(actor, page=1, page_size=100)


def board_read(actor, board_id: int) -> dict:
    state = tools.get_board_state(actor, board_id)
    return {**state, "last_seq": board_last_seq(board_id)}


def ready_read(actor, board_id: int) -> dict:
    ready = ready_now(actor, board_id)
    return {key: ready[key] for key in ("board_id", "column", "tasks", "last_seq")}


def task_read(actor, task_id: int) -> dict:
    return tools.get_task(actor, task_id)


def add_resources(server: MCPServer) -> None:
    @server.resource(
        BOARDS,
        name="boards",
        description="The boards you may read: id, name, columns and ticket count "
        "(the first 100; list_boards pages).",
        mime_type=JSON,
    )
    async def boards() -> str:
        return await on_mcp_threads(_read)(boards_read)

    @server.resource(
        "kanban://boards/{board_id}",
        name="board",
        description="The board at a glance: its columns in order with WIP limit, count and "
        "top tasks, and `last_seq`, the number of its latest event (get_board_events "
        "reads on from there).",
        mime_type=JSON,
    )
    async def board(board_id: str) -> str:
        found = _as_id(board_id, "board_id")
        return await on_mcp_threads(_read)(board_read, found)

    @server.resource(
        "kanban://boards/{board_id}/ready",
        name="ready",
        description="The tasks claim_next_task would hand you next on the board's first "
        "column, best first (at most 20), with the board's `last_seq`.",
        mime_type=JSON,
    )
    async def ready(board_id: str) -> str:
        found = _as_id(board_id, "board_id")
        return await on_mcp_threads(_read)(ready_read, found)

    @server.resource(
        "kanban://tasks/{task_id}",
        name="task",
        description="One task: its fields, claim and lease, dependencies, latest comments "
        "and history.",
        mime_type=JSON,
    )
    async def task(task_id: str) -> str:
        found = _as_id(task_id, "task_id")
        return await on_mcp_threads(_read)(task_read, found)
