"""The MCP server both transports serve: every tool of tools.py, as an async MCP tool."""

import inspect
from collections.abc import Callable
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from mcp.server import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BeforeValidator

from core.version import VERSION
from mcp_server import tools
from mcp_server.results import call

INSTRUCTIONS = """\
Agent Kanban: boards of tasks that AI agents and humans share. A typical loop:
list_boards, then claim_next_task on a board (it returns the task in full and holds it
for you for a lease), work on it, add_comment with what you did, heartbeat if the work
takes longer than the lease, and update_task_status to the board's last column when done
(list_columns shows the columns). Pass the version you read to edit_task and
update_task_status so you never overwrite someone else's change. Errors name a code,
e.g. conflict/claimed (someone else holds the task) or conflict/wip_limit."""

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)


def _types(annotation: Any) -> set:
    """The plain types an annotation allows (through Annotated, Optional and unions)."""
    if get_origin(annotation) is Annotated:
        return _types(get_args(annotation)[0])
    if get_origin(annotation) in (Union, UnionType):
        return set().union(*(_types(arg) for arg in get_args(annotation)))
    return {annotation}


def _refuse_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    return value


def no_bool_for_numbers(annotation: Any) -> Any:
    """The SDK validates arguments in pydantic's lax mode, where true is the number 1 (an
    id!); a number parameter refuses true/false, and still takes "5" for 5."""
    if int in _types(annotation) and bool not in _types(annotation):
        return Annotated[annotation, BeforeValidator(_refuse_bool)]
    return annotation


def as_tool(body: Callable[..., dict]) -> Callable:
    """An async MCP tool with the body's name, docstring and typed parameters, less
    `actor`, which the caller's identity provides."""

    async def tool(**arguments) -> CallToolResult:
        return await call(body, arguments)

    parameters = [
        p.replace(annotation=no_bool_for_numbers(p.annotation))
        for p in inspect.signature(body).parameters.values()
        if p.name != "actor"
    ]
    tool.__signature__ = inspect.Signature(parameters, return_annotation=CallToolResult)
    tool.__name__ = tool.__qualname__ = body.__name__
    tool.__doc__ = inspect.cleandoc(body.__doc__ or "")
    return tool


def build_server() -> MCPServer:
    server = MCPServer(
        name="agent-kanban",
        title="Agent Kanban",
        instructions=INSTRUCTIONS,
        version=VERSION,
    )
    for body in tools.READ_TOOLS:
        server.add_tool(as_tool(body), annotations=READ_ONLY)
    for body in tools.WRITE_TOOLS:
        server.add_tool(as_tool(body), annotations=WRITES)
    return server
