"""The three doors to another column (POST /move, PATCH `current_column`, bulk move) keep
one rule: the same WIP refusal, the same refused-move record, the same audited override,
the same `ticket_moved` event and the same unblocking announcements."""

import pytest

from audit.models import AuditEvent
from boards.models import BoardEvent
from boards.selectors import board_columns
from boards.services import board_set_columns
from stats.models import RefusedMove
from tests.claims.helpers import assert_error, history_of
from tests.factories import make_ticket
from tickets.models import Ticket
from tickets.services import ticket_claim, ticket_set_dependencies

pytestmark = pytest.mark.django_db


def by_move(client, ticket_id: int, column: str, **extra):
    return client.post(f"/api/tickets/{ticket_id}/move", {"column": column, **extra}, "json")


def by_patch(client, ticket_id: int, column: str, **extra):
    return client.patch(f"/api/tickets/{ticket_id}", {"current_column": column, **extra}, "json")


def by_bulk(client, ticket_id: int, column: str, **extra):
    body = {"ticket_ids": [ticket_id], "column": column, **extra}
    return client.post("/api/bulk/tickets/move", body, "json")


DOORS = pytest.mark.parametrize("door", [by_move, by_patch, by_bulk], ids=["move", "patch", "bulk"])


@pytest.fixture
def full(user, board):
    """In Progress allows one ticket and holds one; `waiting` is in Backlog."""
    columns = [
        {"id": c["id"], "name": c["name"], "wip_limit": 1 if c["name"] == "In Progress" else None}
        for c in board_columns(board_id=board.pk)
    ]
    board_set_columns(actor=user, board_id=board.pk, columns=columns)
    make_ticket(user, board, "busy", column="In Progress")
    return make_ticket(user, board, "waiting")


def events_since(board, seq: int) -> list[BoardEvent]:
    return list(BoardEvent.objects.filter(board=board, seq__gt=seq).order_by("seq"))


def last_seq(board) -> int:
    return board.__class__.objects.get(pk=board.pk).last_event_seq


@DOORS
def test_a_full_column_refuses_and_the_refusal_is_counted(door, member_api, board, full):
    seq = last_seq(board)
    error = assert_error(door(member_api, full.pk, "In Progress"), 409, "wip_limit")
    assert (error["wip_limit"], error["count"]) == (1, 1)
    assert Ticket.objects.get(pk=full.pk).column.name == "Backlog"
    assert last_seq(board) == seq
    refusal = RefusedMove.objects.get()
    assert (refusal.ticket_id, refusal.reason, refusal.to_column) == (
        full.pk,
        "wip_limit",
        "In Progress",
    )


@DOORS
def test_a_claim_refusal_is_counted(door, member_api, agent_with_token, board, full):
    ticket_claim(actor=agent_with_token[0], ticket_id=full.pk)
    assert_error(door(member_api, full.pk, "Testing"), 409, "claimed")
    assert list(RefusedMove.objects.values_list("ticket_id", "reason")) == [(full.pk, "claimed")]


@DOORS
def test_an_admin_override_is_recorded_and_audited(door, api, board, full):
    response = door(api, full.pk, "In Progress", override_wip=True)
    assert response.status_code == 200, response.content
    assert Ticket.objects.filter(column__name="In Progress").count() == 2
    assert ("wip_override", None, "In Progress (limit 1)", "alice") in history_of(full.pk)
    audit = AuditEvent.objects.get(action="wip.override")
    assert (audit.board_id, audit.target_id, audit.details) == (
        board.pk,
        str(full.pk),
        {"column": "In Progress", "wip_limit": 1},
    )
    assert RefusedMove.objects.count() == 0


@DOORS
def test_an_override_is_for_admins_only(door, member_api, board, full):
    assert_error(door(member_api, full.pk, "In Progress", override_wip=True), 403)
    assert Ticket.objects.get(pk=full.pk).column.name == "Backlog"
    assert not AuditEvent.objects.filter(action="wip.override").exists()


@DOORS
def test_an_override_that_was_not_needed_is_not_recorded(door, api, full):
    assert door(api, full.pk, "Testing", override_wip=True).status_code == 200
    assert history_of(full.pk, "wip_override") == []
    assert not AuditEvent.objects.filter(action="wip.override").exists()


@DOORS
def test_the_event_is_ticket_moved_with_where_it_came_from(door, api, board, user):
    ticket = make_ticket(user, board, "Card")
    seq = last_seq(board)
    assert door(api, ticket.pk, "Testing").status_code == 200
    [event] = events_since(board, seq)
    assert event.type == "ticket_moved"
    read = api.get(f"/api/tickets/{ticket.pk}").json()
    assert event.payload == {**read, "from_column": "Backlog"}
    assert history_of(ticket.pk, "current_column")[-1] == (
        "current_column",
        "Backlog",
        "Testing",
        "alice",
    )


@DOORS
def test_finishing_a_blocker_announces_what_it_unblocked(door, api, board, user):
    blocker, waiting = make_ticket(user, board, "Blocker"), make_ticket(user, board, "Waiting")
    ticket_set_dependencies(actor=user, ticket_id=waiting.pk, blocked_by=[blocker.pk])
    seq = last_seq(board)
    assert door(api, blocker.pk, "Done").status_code == 200
    events = [(event.type, event.payload["id"]) for event in events_since(board, seq)]
    assert events == [("ticket_moved", blocker.pk), ("ticket_unblocked", waiting.pk)]


@DOORS
def test_staying_in_the_same_column_changes_nothing(door, api, board, user):
    ticket = make_ticket(user, board, "Card")
    seq = last_seq(board)
    assert door(api, ticket.pk, "Backlog").status_code == 200
    assert last_seq(board) == seq
    assert Ticket.objects.get(pk=ticket.pk).version == ticket.version


def test_a_bulk_move_is_one_event_per_ticket_in_the_order_given(api, board, user):
    ids = [make_ticket(user, board, title).pk for title in ("A", "B", "C")]
    seq = last_seq(board)
    response = api.post(
        "/api/bulk/tickets/move", {"ticket_ids": ids[::-1], "column": "Testing"}, "json"
    )
    assert response.status_code == 200, response.content
    events = events_since(board, seq)
    assert [(event.type, event.payload["id"]) for event in events] == [
        ("ticket_moved", pk) for pk in ids[::-1]
    ]
    assert {event.payload["from_column"] for event in events} == {"Backlog"}
    order = Ticket.objects.filter(column__name="Testing").order_by("position")
    assert [ticket.pk for ticket in order] == ids[::-1]


def test_a_bulk_override_audits_only_the_tickets_past_the_limit(api, board, user, full):
    other = make_ticket(user, board, "other")
    columns = [
        {"id": c["id"], "name": c["name"], "wip_limit": 2 if c["name"] == "In Progress" else None}
        for c in board_columns(board_id=board.pk)
    ]
    board_set_columns(actor=user, board_id=board.pk, columns=columns)
    body = {"ticket_ids": [full.pk, other.pk], "column": "In Progress", "override_wip": True}
    assert api.post("/api/bulk/tickets/move", body, "json").status_code == 200
    # One place was free: the first ticket took it, the second went past the limit.
    assert history_of(full.pk, "wip_override") == []
    assert history_of(other.pk, "wip_override") == [
        ("wip_override", None, "In Progress (limit 2)", "alice")
    ]
    audited = AuditEvent.objects.filter(action="wip.override")
    assert list(audited.values_list("target_id", flat=True)) == [str(other.pk)]
