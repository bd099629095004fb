"""Every write path leaves TicketHistory rows (field, old, new, who) and one BoardEvent
with the board's next sequence number."""

import pytest

from boards.models import BoardEvent
from tests.factories import make_ticket
from tests.tickets.helpers import (
    assert_seq_gap_free,
    event_types,
    history_of,
    history_since,
    last_history_id,
)
from tickets.services import ticket_update


@pytest.fixture
def ticket(user, board):
    return make_ticket(user, board, "Original", description="Old text", labels=["bug"])


def test_create_records_every_initial_value(api, board, other_user):
    response = api.post(
        "/api/tickets/",
        {
            "board_id": board.pk,
            "title": "New",
            "description": "Words",
            "priority": "high",
            "assignee": "bob",
            "labels": ["ui", "bug"],
            "column": "Testing",
        },
        "json",
    )
    rows = history_of(response.json()["id"])
    assert rows[0] == ("created", None, "New", "alice")
    assert set(rows[1:]) == {
        ("description", None, "Words", "alice"),
        ("priority", None, "high", "alice"),
        ("assignee", None, "bob", "alice"),
        ("labels", None, "bug, ui", "alice"),
        ("current_column", None, "Testing", "alice"),
    }
    assert event_types(board)[-1] == "ticket_created"
    assert_seq_gap_free(board)


def test_create_by_an_agent_is_attributed_to_the_agent(agent_api, board):
    response = agent_api.post("/api/tickets/", {"board_id": board.pk, "title": "Bot"}, "json")
    rows = history_of(response.json()["id"])
    assert {row[3] for row in rows} == {"claude-1"}
    assert BoardEvent.objects.get(board=board, type="ticket_created").actor.username == "claude-1"


@pytest.mark.parametrize(
    "body, row",
    [
        ({"title": "Renamed"}, ("title", "Original", "Renamed")),
        ({"description": "New text"}, ("description", "Old text", "New text")),
        ({"description": ""}, ("description", "Old text", "")),
        ({"acceptance_criteria": "Works"}, ("acceptance_criteria", "", "Works")),
        ({"priority": "low"}, ("priority", "medium", "low")),
        ({"assignee": "bob"}, ("assignee", None, "bob")),
        ({"labels": ["bug", "ui"]}, ("labels", "bug", "bug, ui")),
        ({"labels": []}, ("labels", "bug", None)),
        ({"current_column": "Done"}, ("current_column", "Backlog", "Done")),
    ],
)
def test_update_of_each_tracked_field(api, board, ticket, other_user, body, row):
    start = last_history_id()
    seq = board.__class__.objects.get(pk=board.pk).last_event_seq
    response = api.patch(f"/api/tickets/{ticket.pk}", body, "json")
    assert response.status_code == 200, response.content
    assert history_since(start) == [(ticket.pk, *row, "alice")]
    event = BoardEvent.objects.get(board=board, seq=seq + 1)
    expected_type = "ticket_moved" if "current_column" in body else "ticket_updated"
    assert event.type == expected_type
    assert event.payload["id"] == ticket.pk
    assert event.payload["version"] == 2
    assert_seq_gap_free(board)


def test_unassign_is_recorded(api, user, board, other_user):
    ticket = make_ticket(user, board, "T", assignee="bob")
    start = last_history_id()
    api.patch(f"/api/tickets/{ticket.pk}", {"assignee": None}, "json")
    assert history_since(start) == [(ticket.pk, "assignee", "bob", None, "alice")]


def test_one_update_of_several_fields_is_one_event(api, board, ticket):
    start = last_history_id()
    api.patch(f"/api/tickets/{ticket.pk}", {"title": "T2", "priority": "critical"}, "json")
    assert sorted(row[1] for row in history_since(start)) == ["priority", "title"]
    assert event_types(board)[-1] == "ticket_updated"
    assert BoardEvent.objects.filter(board=board, type="ticket_updated").count() == 1


def test_move_between_columns_records_column_and_position(api, user, board, ticket):
    make_ticket(user, board, "Already there", column="In Progress")
    old_position = ticket.position
    start = last_history_id()
    moved = api.post(f"/api/tickets/{ticket.pk}/move", {"column": "In Progress"}, "json").json()
    assert history_since(start) == [
        (ticket.pk, "current_column", "Backlog", "In Progress", "alice"),
        (ticket.pk, "position", old_position, moved["position"], "alice"),
    ]
    event = BoardEvent.objects.filter(board=board).order_by("-seq").first()
    assert event.type == "ticket_moved"
    assert event.payload["from_column"] == "Backlog"
    assert event.payload["current_column"] == "In Progress"
    assert_seq_gap_free(board)


def test_move_within_a_column_records_only_position(api, user, board, ticket):
    other = make_ticket(user, board, "Other")
    start = last_history_id()
    moved = api.post(
        f"/api/tickets/{other.pk}/move", {"column": "Backlog", "position": "top"}, "json"
    ).json()
    assert history_since(start) == [
        (other.pk, "position", other.position, moved["position"], "alice"),
    ]
    assert event_types(board)[-1] == "ticket_moved"


def test_delete_is_recorded_and_history_outlives_the_ticket(api, board, ticket):
    start = last_history_id()
    assert api.delete(f"/api/tickets/{ticket.pk}").status_code == 204
    assert history_since(start) == [(ticket.pk, "deleted", "Original", None, "alice")]
    event = BoardEvent.objects.filter(board=board).order_by("-seq").first()
    assert (event.type, event.payload["id"], event.payload["title"]) == (
        "ticket_deleted",
        ticket.pk,
        "Original",
    )
    listed = api.get(f"/api/history/tickets/{ticket.pk}/history").json()["items"]
    assert (listed[0]["field_name"], listed[-1]["field_name"]) == ("created", "deleted")
    assert_seq_gap_free(board)


@pytest.mark.parametrize(
    "url, body, field, old, new",
    [
        ("move", {"column": "Done"}, "current_column", "Backlog", "Done"),
        ("priority", {"priority": "critical"}, "priority", "medium", "critical"),
        ("assign", {"assignee": "bob"}, "assignee", None, "bob"),
    ],
)
def test_each_bulk_operation_writes_each_tickets_history(
    api, user, board, other_user, url, body, field, old, new
):
    ids = [make_ticket(user, board, title).pk for title in ("A", "B", "C")]
    start = last_history_id()
    seq = board.__class__.objects.get(pk=board.pk).last_event_seq
    response = api.post(f"/api/bulk/tickets/{url}", {"ticket_ids": ids, **body}, "json")
    assert response.status_code == 200, response.content
    rows = [row for row in history_since(start) if row[1] == field]
    assert rows == [(pk, field, old, new, "alice") for pk in ids]
    events = list(BoardEvent.objects.filter(board=board, seq__gt=seq).order_by("seq"))
    kind = "ticket_moved" if url == "move" else "ticket_updated"
    assert [event.type for event in events] == [kind] * len(ids)
    assert [event.payload["id"] for event in events] == ids
    assert_seq_gap_free(board)


def test_bulk_records_nothing_for_unchanged_tickets(api, user, board):
    ids = [make_ticket(user, board, title, priority="low").pk for title in "AB"]
    start = last_history_id()
    events = BoardEvent.objects.count()
    response = api.post(
        "/api/bulk/tickets/priority", {"ticket_ids": ids, "priority": "low"}, "json"
    )
    assert response.json()["changed"] == 0
    assert history_since(start) == []
    assert BoardEvent.objects.count() == events


def test_failed_writes_leave_no_history_and_no_event(api, board, ticket):
    start = last_history_id()
    events = BoardEvent.objects.count()
    api.patch(f"/api/tickets/{ticket.pk}", {"title": "X", "version": 9}, "json")
    api.patch(f"/api/tickets/{ticket.pk}", {"assignee": "nobody"}, "json")
    api.post(f"/api/tickets/{ticket.pk}/move", {"column": "Nowhere"}, "json")
    api.post("/api/tickets/", {"board_id": board.pk, "title": ""}, "json")
    assert history_since(start) == []
    assert BoardEvent.objects.count() == events


def test_a_whole_session_numbers_events_without_gaps(api, user, board, other_user):
    ids = [
        api.post("/api/tickets/", {"board_id": board.pk, "title": t}, "json").json()["id"]
        for t in "ABC"
    ]
    api.patch(f"/api/tickets/{ids[0]}", {"title": "A2"}, "json")
    api.post(f"/api/tickets/{ids[1]}/move", {"column": "Done"}, "json")
    api.post("/api/bulk/tickets/assign", {"ticket_ids": ids, "assignee": "bob"}, "json")
    api.delete(f"/api/tickets/{ids[2]}")
    assert event_types(board) == [
        "board_created",
        "ticket_created",
        "ticket_created",
        "ticket_created",
        "ticket_updated",
        "ticket_moved",
        "ticket_updated",
        "ticket_updated",
        "ticket_updated",
        "ticket_deleted",
    ]
    assert_seq_gap_free(board)


def test_service_actor_is_recorded(user, other_user, board, ticket):
    """Adapters other than REST (MCP, commands) call the same service with their actor."""
    start = last_history_id()
    ticket_update(actor=other_user, ticket_id=ticket.pk, title="By bob")
    assert history_since(start) == [(ticket.pk, "title", "Original", "By bob", "bob")]
    assert BoardEvent.objects.filter(board=board).order_by("-seq").first().actor == other_user
