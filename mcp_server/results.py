"""How a tool answers. Success: its dict as compact JSON text and as structured content.
A DomainError: an MCP tool error (isError) whose text carries the API's code and message,
e.g. "conflict/claimed: Ticket 4 is claimed by bot3 until …", and whose structured content
is the API's error envelope."""

import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from mcp.types import CallToolResult, TextContent

from core import metrics
from core.errors import (
    Conflict,
    DatabaseBusy,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    error_body,
    field_error,
    is_database_unavailable,
)
from mcp_server.identity import current_actor
from mcp_server.threads import on_mcp_threads

logger = logging.getLogger(__name__)

# The error families of the API (its 4xx statuses); a specific code is shown after its family.
_FAMILIES = (InvalidInput, NotFound, Forbidden, Conflict)


def error_code(error: DomainError) -> str:
    family = next((kind.code for kind in type(error).__mro__ if kind in _FAMILIES), None)
    if family is None or family == error.code:
        return error.code
    return f"{family}/{error.code}"


def ok(data: dict) -> CallToolResult:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)


def failed(error: DomainError) -> CallToolResult:
    body = error_body(error.message, error.code, error.validation_errors, **error.extra)
    text = f"{error_code(error)}: {error.message}"
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=body, is_error=True
    )


# Not thread-sensitive: each call takes a thread of the pool (and a database connection
# of the process's pool) of its own, so one agent's call never queues behind another's.
# With one shared thread, 32 agents calling claim_next_task got 22 calls/s in all.
def _run_as_actor(body: Callable[..., dict], arguments: dict) -> Awaitable[dict]:
    # The whole body runs in that thread, with connections managed as for a request;
    # the identity is read there from the caller's context.
    return on_mcp_threads(_as_actor)(body, arguments)


def _as_actor(body: Callable[..., dict], arguments: dict) -> dict:
    return body(actor=current_actor(), **arguments)


def _answer(body: Callable, arguments: dict) -> Awaitable[dict]:
    if inspect.iscoroutinefunction(body):
        # It asks for the caller itself, in a database thread, at each of its looks.
        return body(actor=current_actor, **arguments)
    return _run_as_actor(body, arguments)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    if isinstance(value, dict):  # the objects of a list argument (create_subtasks)
        return any(_has_nul(item) for item in value.values())
    return False


def refuse_bad_arguments(arguments: dict) -> None:
    """NUL characters pass the SDK's validation of str, but PostgreSQL cannot store them
    in text (SQLite can: the same call must not work on one database only)."""
    for name, value in arguments.items():
        if _has_nul(value):
            raise InvalidInput(
                f"{name}: text may not contain NUL characters.",
                validation_errors=[field_error(name, "Text may not contain NUL characters.")],
            )


async def call(body: Callable[..., dict], arguments: dict) -> CallToolResult:
    """Run a tool body (sync code over services and selectors, or a coroutine that waits)
    as the current identity."""
    try:
        refuse_bad_arguments(arguments)
        data = await _answer(body, arguments)
    except DomainError as error:
        return failed(error)
    except Exception as error:
        if not is_database_unavailable(error):
            raise
        logger.warning("Database unavailable: %s", error)
        metrics.database_busy("mcp")
        return failed(DatabaseBusy())
    return ok(data)
