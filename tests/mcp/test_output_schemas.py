"""Every tool publishes an outputSchema (its answer type, mcp_server/shapes.py) and every
answer it gives matches it; errors stay tool errors with the API's codes."""

from datetime import datetime
from typing import Any

import anyio
import pytest
from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from mcp import Client
from mcp.server import MCPServer
from mcp.types import CallToolResult

from agents.models import User
from boards.services import board_set_columns
from comments.services import comment_create
from mcp_server import tools
from mcp_server.identity import acting_with
from mcp_server.server import answer_type, as_tool, build_server
from mcp_server.shapes import Heartbeat
from tests.factories import add_member, make_agent, make_board, make_ticket, make_user
from tests.mcp.helpers import READ_TOOLS, WRITE_TOOLS, call, data, error_text
from tickets.services import ticket_claim, ticket_update

pytestmark = pytest.mark.django_db(transaction=True)

# jsonschema checks no date-time without an optional package: check the API's own moments.
MOMENTS = FormatChecker(formats=())


@MOMENTS.checks("date-time", raises=ValueError)
def _is_moment(value: Any) -> bool:
    return not isinstance(value, str) or (
        "T" in value and datetime.fromisoformat(value).tzinfo is not None
    )


def closed(schema: Any) -> Any:
    """`schema` with every object closed to keys it does not list: the published schemas
    leave objects open, this check does not, so a key a type lacks fails here."""
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    shut = {key: closed(value) for key, value in schema.items()}
    if "properties" in shut:
        shut.setdefault("additionalProperties", False)
    return shut


def strict(schema: dict) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(closed(schema), format_checker=MOMENTS)


def problems(schema: dict, answer: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in strict(schema).iter_errors(answer)
    ]


def output_schemas() -> dict[str, dict | None]:
    async def go() -> dict[str, dict | None]:
        async with Client(build_server()) as client:
            return {tool.name: tool.output_schema for tool in (await client.list_tools()).tools}

    return anyio.run(go)


def test_every_tool_publishes_an_object_schema():
    schemas = output_schemas()
    assert set(schemas) == READ_TOOLS | WRITE_TOOLS
    for name, schema in schemas.items():
        assert schema is not None, f"{name} has no outputSchema"
        Draft202012Validator.check_schema(schema)
        assert schema["type"] == "object" and schema["required"], name
        assert "result" not in schema["properties"], f"{name}'s answer is wrapped"
    claim = schemas["claim_next_task"]
    assert {"claimed", "task", "message", "claim_token"} <= set(claim["properties"])
    assert "claim_token" not in claim["required"]  # only when a task was claimed
    assert "claim_token" in schemas["claim_task"]["required"]
    assert "claim_token" in schemas["heartbeat"]["required"]
    task = claim["$defs"]["TaskDetail"]
    assert task["properties"]["priority"]["enum"] == ["critical", "high", "medium", "low"]
    assert task["properties"]["created_at"]["format"] == "date-time"


def test_a_tool_body_must_declare_its_answer_type():
    def untyped(actor, task_id: int) -> dict:
        return {}

    def unannotated(actor):
        return {}

    for body in (untyped, unannotated):
        with pytest.raises(TypeError, match=f"{body.__name__} must be annotated to return a"):
            as_tool(body)
    assert answer_type(tools.heartbeat) is Heartbeat


def test_every_answer_of_every_tool_matches_its_schema(owner, work_board, agent, other_agent):
    bot, secret = agent
    holder, _ = other_agent
    schemas = output_schemas()
    columns = data(call(secret, "list_columns", board_id=work_board.pk))["columns"]
    board_set_columns(
        actor=owner,
        board_id=work_board.pk,
        columns=[
            {
                "id": c["id"],
                "name": c["name"],
                "wip_limit": 3 if c["name"] == "In Progress" else None,
            }
            for c in columns
        ],
    )
    finished = make_ticket(owner, work_board, "Schema", column="Done", labels=["db"])
    api = make_ticket(
        owner,
        work_board,
        "API",
        description="Expose the **schema**.",
        acceptance_criteria="- GET works\n- POST works",
        priority="high",
        assignee="bot-1",
        labels=["backend", "api"],
    )
    docs = make_ticket(owner, work_board, "Docs", priority="critical", labels=["docs"])
    held = make_ticket(owner, work_board, "Held", column="In Progress", assignee="bot-2")
    ticket_claim(actor=holder, ticket_id=held.pk)
    ticket_update(actor=owner, ticket_id=api.pk, expected_version=None, title="API v1")
    comment_create(actor=owner, ticket_id=api.pk, text="Start with GET.")
    gone = make_user("gone")
    add_member(work_board, gone, "member")
    comment_create(actor=gone, ticket_id=api.pk, text="Left before this was done.")
    User.objects.filter(pk=gone.pk).delete()  # its comment's author is now null
    other = make_board(owner, "Empty", description="x" * 300)
    add_member(other, bot, "agent")

    answers: list[tuple[str, CallToolResult]] = []

    def answer(name: str, **arguments) -> dict:
        result = call(secret, name, **arguments)
        answers.append((name, result))
        return data(result)

    answer("add_dependency", task_id=docs.pk, blocked_by_task_id=api.pk)
    answer("add_dependency", task_id=docs.pk, blocked_by_task_id=finished.pk)
    answer("list_boards")
    answer("list_boards", page=9)
    _, lonely = make_agent("lonely")
    answers.append(("list_boards", call(lonely, "list_boards")))  # none: with its hint
    answer("get_board_state", board_id=work_board.pk, per_column=1)
    answer("list_columns", board_id=work_board.pk)
    answer("list_tasks", board_id=work_board.pk, label="backend")
    answer("list_tasks", page=2, page_size=2)
    answer("search_tasks", query="schema")
    answer("get_task", task_id=api.pk)
    answer("get_task", task_id=docs.pk, recent=1)
    answer("get_task", task_id=held.pk)
    created = answer(
        "create_task",
        board_id=work_board.pk,
        title="Cache",
        description="The board page.",
        acceptance_criteria="Fast.",
        priority="low",
        column="In Progress",
        assignee="owner",
        labels=["perf"],
    )["task"]
    edited = answer("edit_task", task_id=created["id"], version=created["version"], labels=[])
    split = answer(
        "create_subtasks",
        task_id=created["id"],
        subtasks=[
            {"title": "Measure"},
            {"title": "Fix", "description": "Cache it.", "priority": "high"},
        ],
    )
    assert split["task"]["subtasks"] == {"total": 2, "done": 0}
    assert {task["parent_id"] for task in split["subtasks"]} == {created["id"]}
    answer("update_task_status", task_id=edited["task"]["id"], column="Backlog", position="top")
    answer("claim_task", task_id=api.pk, lease_seconds=600)
    answer("heartbeat", task_id=api.pk, lease_seconds=900)
    answer("report_progress", task_id=api.pk, status="Writing the GET handler", percent=40)
    answer("add_comment", task_id=api.pk, text="GET done.")
    answer("release_task", task_id=api.pk)
    claimed = answer("claim_next_task", board_id=work_board.pk, labels=["backend"])
    assert claimed["claimed"] is True
    nothing = answer("claim_next_task", board_id=other.pk)
    assert nothing["claimed"] is False and nothing["task"] is None
    answer("remove_dependency", task_id=docs.pk, blocked_by_task_id=finished.pk)
    events = answer("get_board_events", board_id=work_board.pk, since=0, limit=5)
    assert events["items"] and events["has_more"] is True
    ready = answer("wait_for_work", board_id=work_board.pk, timeout_seconds=1)
    assert ready["task"] is not None
    idle = answer("wait_for_work", board_id=other.pk, timeout_seconds=1)
    assert idle["task"] is None

    # In Progress requires review: the owner puts a task there, the agent approves it.
    board_set_columns(
        actor=owner,
        board_id=work_board.pk,
        columns=[
            {"id": c["id"], "name": c["name"], "requires_review": c["name"] == "In Progress"}
            for c in columns
        ],
    )
    waiting = make_ticket(owner, work_board, "Waiting", column="In Progress")
    reviewed = answer("review_task", task_id=waiting.pk, decision="approve", comment="Fine.")
    assert reviewed["task"]["current_column"] == "Done"

    assert {name for name, _ in answers} == set(schemas), "every tool is called"
    for name, result in answers:
        assert problems(schemas[name], result.structured_content) == [], name
    # The seeded data reached the nullable and optional branches of the types.
    full = data(call(secret, "get_task", task_id=api.pk))
    assert None in {comment["author"] for comment in full["comments"]}
    assert full["task"]["claimed_by"] == "bot-1" and full["task"]["lease_expires_at"]
    both = data(answers[1][1])["dependencies"]["blocked_by"]
    assert {ref["is_finished"] for ref in both} == {True, False}


def test_the_check_fails_on_a_key_the_type_lacks_or_a_missing_one(owner, work_board, agent):
    _, secret = agent
    make_ticket(owner, work_board, "Lonely")
    schema = output_schemas()["list_tasks"]
    page = data(call(secret, "list_tasks", board_id=work_board.pk))
    assert problems(schema, page) == []
    surprise = {**page, "items": [{**page["items"][0], "surprise": 1}]}
    assert problems(schema, surprise) == [
        "items/0: Additional properties are not allowed ('surprise' was unexpected)"
    ]
    missing = {key: value for key, value in page.items() if key != "total"}
    assert problems(schema, missing) == ["(top): 'total' is a required property"]
    unknown_priority = {**page, "items": [{**page["items"][0], "priority": "asap"}]}
    assert problems(schema, unknown_priority)
    with pytest.raises(ValidationError):
        strict(output_schemas()["get_task"]).validate({"task": {"created_at": "yesterday"}})


def test_errors_stay_tool_errors_with_the_api_code(owner, work_board, agent, other_agent):
    _, secret = agent
    holder, _ = other_agent
    schemas = output_schemas()
    ticket = make_ticket(owner, work_board, "Held")
    ticket_claim(actor=holder, ticket_id=ticket.pk)

    refused = call(secret, "claim_task", task_id=ticket.pk)
    assert error_text(refused).startswith(f"conflict/claimed: Ticket {ticket.pk} is claimed by")
    assert refused.structured_content["error"]["code"] == "claimed"
    # The error envelope is not the answer type: the SDK did not check it against it.
    assert problems(schemas["claim_task"], refused.structured_content)

    missing = call(secret, "get_task", task_id=999_999)
    assert error_text(missing).startswith("not_found:")
    assert missing.structured_content["error"]["code"] == "not_found"
    nobody = call(None, "list_boards")
    assert error_text(nobody).startswith("forbidden/not_authenticated:")


def test_the_server_refuses_an_answer_that_is_not_its_type(agent):
    """A body answering other than its type fails as a tool error instead of sending it."""
    _, secret = agent

    def heartbeat(actor) -> Heartbeat:
        """A heartbeat that answers a number for a username."""
        return {"task_id": 1, "claimed_by": 7, "lease_expires_at": None}

    server = MCPServer(name="typed")
    server.add_tool(as_tool(heartbeat))

    async def go() -> CallToolResult:
        async with Client(server) as client:
            return await client.call_tool("heartbeat", {})

    with acting_with(secret):
        result = anyio.run(go)
    assert error_text(result) == "Error executing tool heartbeat"
