"""What each tool does and refuses, through the SDK's in-process client (the tools run in
Django's database thread, so the tests commit their data: transaction=True)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents.models import User
from boards.services import board_set_columns
from comments.services import comment_create
from history.models import TicketHistory
from mcp_server import tools
from mcp_server.shapes import BRIEF_FIELDS
from tests.factories import add_member, make_agent, make_board, make_ticket
from tests.mcp.helpers import call, data, error_text
from tickets.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_tool_needs_an_identity(work_board, agent):
    refused = call(None, "list_boards")
    assert (
        error_text(refused)
        == "forbidden/not_authenticated: The token is unknown, revoked or expired."
    )
    assert refused.structured_content["error"]["code"] == "not_authenticated"
    assert error_text(call("bogus", "list_boards")).startswith("forbidden/not_authenticated")


def test_claim_next_with_nothing_ready_is_a_normal_answer(work_board, agent):
    _, secret = agent
    answer = data(call(secret, "claim_next_task", board_id=work_board.pk))
    assert answer == {
        "claimed": False,
        "task": None,
        "message": f"Nothing to claim in 'Backlog' of board {work_board.pk}.",
    }


def test_dependencies_block_claim_next_and_refuse_cycles(owner, work_board, agent):
    _, secret = agent
    blocker = make_ticket(owner, work_board, "Schema", priority="low")
    blocked = make_ticket(owner, work_board, "API", priority="critical")

    added = data(call(secret, "add_dependency", task_id=blocked.pk, blocked_by_task_id=blocker.pk))
    assert added["dependencies"]["is_blocked"] is True
    assert [ref["id"] for ref in added["dependencies"]["blocked_by"]] == [blocker.pk]

    cycle = call(secret, "add_dependency", task_id=blocker.pk, blocked_by_task_id=blocked.pk)
    assert error_text(cycle).startswith("conflict/dependency_cycle:")
    blocked_claim = call(secret, "claim_task", task_id=blocked.pk)
    assert error_text(blocked_claim) == (
        f"conflict/blocked: Ticket {blocked.pk} is blocked by unfinished ticket(s) #{blocker.pk}."
    )
    # The critical ticket is blocked, so the low one is handed out.
    assert data(call(secret, "claim_next_task", board_id=work_board.pk))["task"]["id"] == blocker.pk

    removed = data(
        call(secret, "remove_dependency", task_id=blocked.pk, blocked_by_task_id=blocker.pk)
    )
    assert removed["dependencies"]["blocked_by"] == []
    again = call(secret, "remove_dependency", task_id=blocked.pk, blocked_by_task_id=blocker.pk)
    assert (
        error_text(again)
        == f"invalid: blocked_by: Ticket {blocker.pk} does not block {blocked.pk}."
    )


def test_edit_task_checks_the_version(owner, work_board, agent):
    bot, secret = agent
    ticket = make_ticket(owner, work_board, "Old title")
    edited = data(
        call(secret, "edit_task", task_id=ticket.pk, version=1, title="New title", labels=["api"])
    )["task"]
    assert (edited["title"], edited["labels"], edited["version"]) == ("New title", ["api"], 2)
    stale = call(secret, "edit_task", task_id=ticket.pk, version=1, title="Lost update")
    assert error_text(stale).startswith(
        f"conflict/version_conflict: Ticket {ticket.pk} has changed: you have version 1"
    )
    assert stale.structured_content["error"]["current_version"] == 2
    assert Ticket.objects.get(pk=ticket.pk).title == "New title"
    assert TicketHistory.objects.get(ticket_id=ticket.pk, field_name="title").changed_by == bot
    nothing = call(secret, "edit_task", task_id=ticket.pk)
    assert error_text(nothing) == "invalid: Give at least one field to change."


def test_moves_respect_wip_limits_and_positions(owner, work_board, agent):
    _, secret = agent
    columns = data(call(secret, "list_columns", board_id=work_board.pk))["columns"]
    board_set_columns(
        actor=owner,
        board_id=work_board.pk,
        columns=[
            {
                "id": c["id"],
                "name": c["name"],
                "wip_limit": 1 if c["name"] == "In Progress" else None,
            }
            for c in columns
        ],
    )
    first, second, third = (make_ticket(owner, work_board, f"T{n}") for n in range(3))
    moved = data(call(secret, "update_task_status", task_id=first.pk, column="In Progress"))
    assert moved["task"]["current_column"] == "In Progress"
    full = call(secret, "update_task_status", task_id=second.pk, column="In Progress")
    assert (
        error_text(full) == "conflict/wip_limit: Column 'In Progress' is at its WIP limit (1 of 1)."
    )
    assert full.structured_content["error"]["wip_limit"] == 1
    not_admin = call(
        secret, "update_task_status", task_id=second.pk, column="In Progress", override_wip=True
    )
    assert error_text(not_admin) == (
        "forbidden/board_admin_required: Only a board admin may do this."
    )

    call(secret, "update_task_status", task_id=third.pk, column="Backlog", position="top")
    call(secret, "update_task_status", task_id=second.pk, column="Backlog", before_task_id=third.pk)
    backlog = data(call(secret, "list_tasks", board_id=work_board.pk, column="backlog"))["items"]
    assert [task["title"] for task in backlog] == ["T1", "T2"]
    both = call(
        secret,
        "update_task_status",
        task_id=second.pk,
        column="Done",
        position="top",
        after_task_id=third.pk,
    )
    assert error_text(both).startswith("invalid: position:")
    unknown = call(secret, "update_task_status", task_id=second.pk, column="Nope")
    assert error_text(unknown).startswith("invalid/unknown_column: Unknown column 'Nope'.")


def test_heartbeat_and_release(owner, work_board, agent, other_agent):
    _, secret = agent
    _, other_secret = other_agent
    ticket = make_ticket(owner, work_board, "Leased")
    claimed = data(call(secret, "claim_task", task_id=ticket.pk, lease_seconds=60))["task"]
    beat = data(call(secret, "heartbeat", task_id=ticket.pk, lease_seconds=600))
    assert beat["task_id"] == ticket.pk and beat["claimed_by"] == "bot-1"
    assert beat["lease_expires_at"] > claimed["lease_expires_at"]
    assert error_text(call(other_secret, "heartbeat", task_id=ticket.pk)).startswith(
        "conflict/claimed:"
    )
    assert error_text(call(other_secret, "release_task", task_id=ticket.pk)).startswith(
        f"forbidden: Ticket {ticket.pk} is claimed by bot-1"
    )
    released = data(call(secret, "release_task", task_id=ticket.pk))["task"]
    assert released["claimed_by"] is None
    assert error_text(call(secret, "heartbeat", task_id=ticket.pk)).startswith(
        "conflict/not_claimed:"
    )
    too_short = call(secret, "claim_task", task_id=ticket.pk, lease_seconds=5)
    assert too_short.is_error and "lease_seconds" in error_text(too_short)


def test_create_task_and_read_it_back(owner, work_board, agent):
    bot, secret = agent
    created = data(
        call(
            secret,
            "create_task",
            board_id=work_board.pk,
            title="Add caching",
            description="Cache the board page.",
            priority="high",
            labels=["perf", "backend"],
            assignee="owner",
            column="In Progress",
        )
    )["task"]
    assert set(created) == set(BRIEF_FIELDS)
    assert (created["current_column"], created["priority"], created["labels"]) == (
        "In Progress",
        "high",
        ["backend", "perf"],
    )
    ticket = Ticket.objects.get(pk=created["id"])
    assert ticket.created_by == bot
    assert TicketHistory.objects.filter(ticket_id=ticket.pk, changed_by=bot).exists()
    for n in range(3):
        comment_create(actor=owner, ticket_id=ticket.pk, text=f"Note {n}")
    call(secret, "edit_task", task_id=ticket.pk, description="x" * 500)

    full = data(call(secret, "get_task", task_id=ticket.pk, recent=2))
    assert full["task"]["description"] == "x" * 500
    assert [c["text"] for c in full["comments"]] == ["Note 1", "Note 2"]
    assert full["comment_count"] == 3
    assert len(full["history"]) == 2 and full["history_count"] > 2
    described = next(row for row in full["history"] if row["field"] == "description")
    assert len(described["new"]) == 200  # long values are clipped
    assert full["dependencies"] == {
        "ticket_id": ticket.pk,
        "is_blocked": False,
        "blocked_by": [],
        "blocks": [],
    }

    bad_priority = call(secret, "create_task", board_id=work_board.pk, title="X", priority="asap")
    assert bad_priority.is_error and "priority" in error_text(bad_priority)
    no_board = call(secret, "create_task", board_id=999_999, title="X")
    assert error_text(no_board) == "not_found: Board 999999 does not exist."
    assert error_text(call(secret, "get_task", task_id=999_999)).startswith("not_found:")


def test_lists_filter_and_paginate(owner, work_board, agent):
    _, secret = agent
    other = make_board(owner, "Other")
    add_member(other, agent[0], "agent")
    hidden = make_board(owner, "Hidden")  # the agent is not on it: it never shows
    make_ticket(owner, hidden, "Secret", description="haystack here too", priority="high")
    for n in range(25):
        make_ticket(owner, work_board, f"Task {n:02}", labels=["even"] if n % 2 == 0 else [])
    make_ticket(owner, work_board, "Needle", description="find the haystack word", priority="high")
    make_ticket(owner, other, "Elsewhere", description="haystack too")

    page = data(call(secret, "list_tasks", board_id=work_board.pk, page=3, page_size=10))
    assert (page["total"], page["page"], page["total_pages"]) == (26, 3, 3)
    assert (page["has_next"], page["has_previous"]) == (False, True)
    assert len(page["items"]) == 6
    assert all(set(item) == set(BRIEF_FIELDS) for item in page["items"])
    assert data(call(secret, "list_tasks", label="even", page_size=100))["total"] == 13
    high = data(call(secret, "list_tasks", priority="high"))["items"]
    assert [task["title"] for task in high] == ["Needle"]
    past_the_end = data(call(secret, "list_tasks", page=99))
    assert past_the_end["items"] == [] and past_the_end["total"] == 27

    found = data(call(secret, "search_tasks", query="HAYSTACK"))
    assert {task["title"] for task in found["items"]} == {"Needle", "Elsewhere"}
    only_here = data(call(secret, "search_tasks", query="haystack", board_id=work_board.pk))
    assert [task["title"] for task in only_here["items"]] == ["Needle"]

    boards = data(call(secret, "list_boards"))
    assert [board["name"] for board in boards["items"]] == ["Other", "Work"]
    work = boards["items"][1]
    assert (work["columns"], work["ticket_count"]) == (["Backlog", "In Progress", "Done"], 26)


def test_an_agent_of_no_board_is_told_why_it_sees_none(owner, work_board):
    """create_agent without --board: the list is empty, and says what to do."""
    _, secret = make_agent("newcomer")
    answer = data(call(secret, "list_boards"))
    assert (answer["items"], answer["total"]) == ([], 0)
    assert answer["hint"].startswith(
        "You are a member of no board; ask a board admin to add newcomer"
    )
    add_member(work_board, User.objects.get(username="newcomer"), "agent")
    answer = data(call(secret, "list_boards"))
    assert [board["name"] for board in answer["items"]] == ["Work"] and "hint" not in answer


def test_board_state_is_compact_bounded_and_constant_in_queries(owner, work_board, agent):
    bot, secret = agent
    for n in range(5):
        make_ticket(owner, work_board, f"Backlog {n}")
    make_ticket(owner, work_board, "Doing", column="In Progress")

    state = data(call(secret, "get_board_state", board_id=work_board.pk, per_column=2))
    assert state["board"] == {"id": work_board.pk, "name": "Work"}
    backlog, doing, done = state["columns"]
    assert [task["title"] for task in backlog["tickets"]] == ["Backlog 0", "Backlog 1"]
    assert (backlog["ticket_count"], backlog["more"]) == (5, 3)
    assert [task["title"] for task in doing["tickets"]] == ["Doing"] and doing["more"] == 0
    assert done["tickets"] == [] and done["wip_limit"] is None
    assert all(set(task) == set(BRIEF_FIELDS) for task in backlog["tickets"])

    def queries() -> int:
        fresh = type(bot).objects.get(pk=bot.pk)  # roles are remembered per user object
        with CaptureQueriesContext(connection) as captured:
            tools.get_board_state(actor=fresh, board_id=work_board.pk, per_column=50)
        return len(captured)

    before = queries()
    for n in range(20):
        make_ticket(owner, work_board, f"More {n}", column="Done", labels=[f"l{n}"])
    assert queries() == before
    missing = call(secret, "get_board_state", board_id=999_999)
    assert error_text(missing) == "not_found: Board 999999 does not exist."


def test_list_tasks_is_constant_in_queries(owner, work_board, agent, django_assert_max_num_queries):
    bot, _ = agent
    for n in range(30):
        make_ticket(owner, work_board, f"T{n}", labels=["a", "b"], assignee="owner")
    with django_assert_max_num_queries(5):
        page = tools.list_tasks(actor=bot, board_id=work_board.pk, page_size=100)
    assert len(page["items"]) == 30
