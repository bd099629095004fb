"""WIP limits: refused for agents and humans alike; an admin may override, on the record."""

import pytest

from boards.selectors import board_columns
from boards.services import board_set_columns
from tests.claims.helpers import assert_error, events_after, history_of, last_seq, row
from tests.factories import make_ticket
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def full(user, board):
    """In Progress holds one ticket and allows one; Backlog holds two."""
    columns = [
        {"id": c["id"], "name": c["name"], "wip_limit": 1 if c["name"] == "In Progress" else None}
        for c in board_columns(board_id=board.pk)
    ]
    board_set_columns(actor=user, board_id=board.pk, columns=columns)
    return {
        "busy": make_ticket(user, board, "busy", column="In Progress"),
        "waiting": make_ticket(user, board, "waiting"),
        "also waiting": make_ticket(user, board, "also waiting"),
    }


def move(client, ticket, **body):
    return client.post(f"/api/tickets/{ticket.pk}/move", {"column": "In Progress", **body}, "json")


def in_progress(board) -> list[str]:
    return sorted(
        Ticket.objects.filter(board=board, column__name="In Progress").values_list(
            "title", flat=True
        )
    )


@pytest.mark.parametrize("who", ["agent_api", "api", "admin_api"])
def test_a_move_into_a_full_column_is_409_for_everyone(request, full, board, who):
    client = request.getfixturevalue(who)
    seq = last_seq(board)
    error = assert_error(move(client, full["waiting"]), 409, "wip_limit")
    assert "In Progress" in error["message"]
    assert (error["wip_limit"], error["count"]) == (1, 1)
    assert in_progress(board) == ["busy"]
    assert last_seq(board) == seq


@pytest.mark.parametrize("who", ["agent_api", "api"])
def test_edit_and_bulk_move_into_a_full_column_are_409(request, full, board, who):
    client = request.getfixturevalue(who)
    waiting = full["waiting"]
    response = client.put(f"/api/tickets/{waiting.pk}", {"current_column": "In Progress"}, "json")
    assert_error(response, 409, "wip_limit")
    both = [full["also waiting"].pk, waiting.pk]
    response = client.post(
        "/api/bulk/tickets/move", {"ticket_ids": both, "column": "In Progress"}, "json"
    )
    assert_error(response, 409, "wip_limit")
    assert in_progress(board) == ["busy"]


def test_an_admin_overrides_and_history_records_it(admin_api, full, board):
    waiting = full["waiting"]
    seq = last_seq(board)
    response = move(admin_api, waiting, override_wip=True)
    assert response.status_code == 200, response.content
    assert in_progress(board) == ["busy", "waiting"]
    assert ("wip_override", None, "In Progress (limit 1)", "root") in history_of(waiting.pk)
    assert ("current_column", "Backlog", "In Progress", "root") in history_of(waiting.pk)
    assert events_after(board, seq) == [("ticket_moved", waiting.pk)]


def test_an_override_that_was_not_needed_is_not_recorded(admin_api, full):
    waiting = full["waiting"]
    assert move(admin_api, waiting, column="Testing", override_wip=True).status_code == 200
    assert history_of(waiting.pk, "wip_override") == []


@pytest.mark.parametrize("who", ["agent_api", "member_api"])
@pytest.mark.parametrize("column", ["In Progress", "Testing"])
def test_a_non_admin_asking_for_an_override_is_403(request, full, board, who, column):
    client = request.getfixturevalue(who)
    version = row(full["waiting"].pk).version
    response = move(client, full["waiting"], column=column, override_wip=True)
    assert_error(response, 403, "board_admin_required")
    assert row(full["waiting"].pk).version == version
    assert in_progress(board) == ["busy"]


def test_reordering_inside_a_full_column_is_allowed(agent_api, admin_api, full, board):
    assert move(admin_api, full["waiting"], override_wip=True).status_code == 200
    response = move(agent_api, full["waiting"], position="top")
    assert response.status_code == 200, response.content
    order = Ticket.objects.filter(board=board, column__name="In Progress").order_by("position")
    assert [ticket.title for ticket in order] == ["waiting", "busy"]


def test_leaving_makes_room(agent_api, full, board):
    assert (
        agent_api.post(
            f"/api/tickets/{full['busy'].pk}/move", {"column": "Done"}, "json"
        ).status_code
        == 200
    )
    assert move(agent_api, full["waiting"]).status_code == 200
    assert in_progress(board) == ["waiting"]


def test_creating_into_a_full_column_is_409(agent_api, full, board):
    response = agent_api.post(
        "/api/tickets/", {"board_id": board.pk, "title": "new", "column": "In Progress"}, "json"
    )
    assert_error(response, 409, "wip_limit")
