"""The bad-input corpus through the MCP tools (the SDK's in-process client, as agents'
calls arrive after the transport has decoded them): a hostile value is a tool error
with a clear message and leaves the database as it was, or valid text stored as sent."""

import anyio
import pytest
from channels.db import database_sync_to_async
from django.db import connections
from mcp import Client
from mcp.types import CallToolResult

from mcp_server.identity import acting_with
from mcp_server.server import build_server
from tests.factories import add_member, make_agent, make_board, make_ticket, make_user
from tests.security.corpus import BAD_NUMBERS, BAD_TEXT, TEXT
from tests.security.snapshot import changed_tables, database_rows

pytestmark = pytest.mark.django_db(transaction=True)

# Over the wire JSON cannot carry an unpaired surrogate to a tool: the SDK's JSON parser
# refuses it before any tool runs, so the in-process client is not given one either.
MCP_BAD_TEXT = {name: value for name, value in BAD_TEXT.items() if name != "lone_surrogate"}


@pytest.fixture(autouse=True)
def close_tool_thread_connections():
    """The tools ran in Django's database thread; close its connection as a request would."""
    yield
    anyio.run(database_sync_to_async(connections.close_all))


@pytest.fixture
def world(transactional_db):
    owner = make_user("owner")
    board = make_board(owner, "Target", columns=["Backlog", "Doing", "Done"])
    agent, secret = make_agent("bot")
    add_member(board, agent, "agent")
    ticket = make_ticket(owner, board, "Victim", labels=["api"])
    return {"board": board.pk, "ticket": ticket.pk, "secret": secret}


def call(secret: str, name: str, arguments: dict) -> CallToolResult:
    async def go() -> CallToolResult:
        async with Client(build_server()) as client:
            return await client.call_tool(name, arguments)

    with acting_with(secret):
        return anyio.run(go)


TEXT_CALLS = {
    "create_task.title": ("create_task", lambda w, v: {"board_id": w["board"], "title": v}, True),
    "create_task.description": (
        "create_task",
        lambda w, v: {"board_id": w["board"], "title": "T", "description": v},
        True,
    ),
    "create_task.labels": (
        "create_task",
        lambda w, v: {"board_id": w["board"], "title": "T", "labels": [v]},
        False,
    ),
    "create_task.column": (
        "create_task",
        lambda w, v: {"board_id": w["board"], "title": "T", "column": v},
        False,
    ),
    "edit_task.title": ("edit_task", lambda w, v: {"task_id": w["ticket"], "title": v}, True),
    "edit_task.assignee": (
        "edit_task",
        lambda w, v: {"task_id": w["ticket"], "assignee": v},
        False,
    ),
    "update_task_status.column": (
        "update_task_status",
        lambda w, v: {"task_id": w["ticket"], "column": v},
        False,
    ),
    "add_comment.text": ("add_comment", lambda w, v: {"task_id": w["ticket"], "text": v}, True),
    "claim_next_task.column": (
        "claim_next_task",
        lambda w, v: {"board_id": w["board"], "column": v},
        False,
    ),
}

NUMBER_CALLS = {
    "create_task.board_id": ("create_task", lambda w, v: {"board_id": v, "title": "T"}),
    "edit_task.version": (
        "edit_task",
        lambda w, v: {"task_id": w["ticket"], "title": "T", "version": v},
    ),
    "claim_task.lease_seconds": (
        "claim_task",
        lambda w, v: {"task_id": w["ticket"], "lease_seconds": v},
    ),
    "add_comment.task_id": ("add_comment", lambda w, v: {"task_id": v, "text": "hi"}),
    "add_dependency.blocked_by": (
        "add_dependency",
        lambda w, v: {"task_id": w["ticket"], "blocked_by_task_id": v},
    ),
}


def refusal_problem(world: dict, tool: str, arguments: dict) -> str | None:
    """None if the call was refused cleanly, else what went wrong."""
    before = database_rows()
    result = call(world["secret"], tool, arguments)
    text = result.content[0].text if result.content else ""
    if not result.is_error:
        return f"accepted: {text[:200]}"
    # A refusal names what was wrong, not the database's complaint about it.
    for leak in ("Traceback", "SELECT", "INSERT", "psycopg", "sqlite", "OverflowError"):
        if leak in text:
            return f"leaks {leak}: {text[:300]}"
    if not text or changed_tables(before, database_rows()):
        return f"left rows behind: {text[:200]}"
    return None


# One test per tool argument, every value of the corpus in turn (a transactional test
# per value would spend most of its time emptying the database).


@pytest.mark.parametrize("call_name", TEXT_CALLS)
def test_valid_text_is_refused_cleanly_or_stored_as_sent(world, call_name):
    tool, arguments, stores = TEXT_CALLS[call_name]
    problems = {}
    for value_name, value in TEXT.items():
        before = database_rows()
        result = call(world["secret"], tool, arguments(world, value))
        if result.is_error:
            if stores or changed_tables(before, database_rows()):
                problems[value_name] = result.content[0].text[:300]
        elif stores:
            cells = {cell for rows in database_rows().values() for row in rows for cell in row}
            if repr(value) not in cells and repr(value.strip()) not in cells:
                problems[value_name] = "not stored as sent"
    assert not problems, problems


@pytest.mark.parametrize("call_name", TEXT_CALLS)
def test_bad_text_is_refused_and_nothing_is_stored(world, call_name):
    tool, arguments, _ = TEXT_CALLS[call_name]
    problems = {
        name: refusal_problem(world, tool, arguments(world, value))
        for name, value in MCP_BAD_TEXT.items()
    }
    assert not {name: problem for name, problem in problems.items() if problem}, problems


@pytest.mark.parametrize("call_name", NUMBER_CALLS)
def test_bad_numbers_are_refused_and_nothing_is_stored(world, call_name):
    tool, arguments = NUMBER_CALLS[call_name]
    problems = {
        name: refusal_problem(world, tool, arguments(world, value))
        for name, value in BAD_NUMBERS.items()
    }
    assert not {name: problem for name, problem in problems.items() if problem}, problems
