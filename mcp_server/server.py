"""The MCP server both transports serve: every tool of tools.py, as an async MCP tool
whose outputSchema is its body's answer type (mcp_server/shapes.py)."""

import inspect
from collections.abc import Callable
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

from mcp.server import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BeforeValidator
from typing_extensions import is_typeddict

from core.version import VERSION
from mcp_server import subscriptions, tools
from mcp_server.prompts import add_prompts
from mcp_server.resources import add_resources
from mcp_server.results import call

INSTRUCTIONS = """\
Agent Kanban: boards of tasks that AI agents and humans share. A typical loop:
list_boards, then wait_for_work on a board (it returns as soon as a task is ready for
you), claim_next_task (it returns the task in full and holds it for you for a lease;
keep its claim_token), work on it, add_comment with what you did, heartbeat if the work
takes longer than the lease, and update_task_status to the board's last column when done
(list_columns shows the columns; the prompt work_on_board explains a board's loop).
Pass the version you read to edit_task and update_task_status so you never overwrite
someone else's change. Errors name a code, e.g. conflict/claimed (someone else holds the
task) or conflict/wip_limit."""

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


def answer_type(body: Callable[..., dict]) -> type:
    """The type of what the body returns: a TypedDict, for the SDK to publish as the tool's
    outputSchema (only a TypedDict or model class gets one as it is: other annotations are
    wrapped in {"result": …})."""
    answer = get_type_hints(body, include_extras=True).get("return")
    if not is_typeddict(answer):
        raise TypeError(f"Tool {body.__name__} must be annotated to return a TypedDict.")
    return answer


def as_tool(body: Callable[..., dict]) -> Callable:
    """An async MCP tool with the body's name, docstring and typed parameters, less
    `actor`, which the caller's identity provides. It returns a CallToolResult (results.py)
    annotated with the body's answer type: the SDK publishes that type's JSON schema as the
    tool's outputSchema and validates a successful result's structured content against it
    (a tool error, isError, is not validated)."""

    async def tool(**arguments) -> CallToolResult:
        return await call(body, arguments)

    parameters = [
        p.replace(annotation=no_bool_for_numbers(p.annotation))
        for p in inspect.signature(body).parameters.values()
        if p.name != "actor"
    ]
    returns = Annotated[CallToolResult, answer_type(body)]
    tool.__signature__ = inspect.Signature(parameters, return_annotation=returns)
    tool.__name__ = tool.__qualname__ = body.__name__
    tool.__doc__ = inspect.cleandoc(body.__doc__ or "")
    return tool


def build_server() -> MCPServer:
    """The tools, the resources (with `subscriptions/listen` on them) and the prompt."""
    server = MCPServer(
        name="agent-kanban",
        title="Agent Kanban",
        instructions=INSTRUCTIONS,
        version=VERSION,
        subscriptions=subscriptions.BUS,
        middleware=[subscriptions.ListenGuard()],
    )
    for body in tools.READ_TOOLS:
        server.add_tool(as_tool(body), annotations=READ_ONLY)
    for body in tools.WRITE_TOOLS:
        server.add_tool(as_tool(body), annotations=WRITES)
    add_resources(server)
    add_prompts(server)
    return server
