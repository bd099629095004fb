"""A ticket has one representation, `ticket_representation`; the serializer, board events
and the MCP server show it. These tests show it for tickets in every state it tells
apart, read every way the surfaces read them. (That it matches the OpenAPI schema is
tests/api/test_response_schema.py.)"""

from datetime import timedelta

import pytest
from django.utils import timezone

from boards.models import BoardEvent
from mcp_server.shapes import task_detail
from tests.factories import add_member, make_agent, make_board, make_ticket
from tickets.models import Ticket
from tickets.representation import ticket_representation
from tickets.selectors import board_tickets, ticket_queryset
from tickets.serializers import TicketSerializer
from tickets.services import ticket_claim, ticket_move, ticket_set_dependencies


@pytest.fixture
def varied_board(user):
    """Tickets claimed, with a lapsed claim, blocked, unblocked, labelled and bare."""
    board = make_board(user, "Varied", columns=["Todo", "Doing", "Done"])
    agent, _ = make_agent()
    add_member(board, agent, "agent")
    bare = make_ticket(user, board, "Bare")
    dressed = make_ticket(
        user,
        board,
        "Dressed <b>up</b>",
        description="Some **words**",
        acceptance_criteria="It works",
        priority="critical",
        assignee=user.username,
        labels=["zeta", "alpha", "mid"],
    )
    finished = make_ticket(user, board, "Finished")
    ticket_move(actor=user, ticket_id=finished.pk, column="Done")
    ticket_claim(actor=agent, ticket_id=dressed.pk, lease_seconds=600)
    ticket_set_dependencies(actor=user, ticket_id=dressed.pk, blocked_by=[bare.pk, finished.pk])
    only_done_blocker = make_ticket(user, board, "Blocked by a finished one")
    ticket_set_dependencies(actor=user, ticket_id=only_done_blocker.pk, blocked_by=[finished.pk])
    lapsed = make_ticket(user, board, "Lapsed claim")
    ticket_claim(actor=agent, ticket_id=lapsed.pk, lease_seconds=600)
    Ticket.objects.filter(pk=lapsed.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=5)
    )
    return board


def shown_by_title(tickets) -> dict[str, dict]:
    return {ticket.title: ticket_representation(ticket) for ticket in tickets}


@pytest.mark.django_db
def test_it_shows_claims_and_blockers(varied_board):
    shown = shown_by_title(ticket_queryset().filter(board=varied_board))
    dressed = shown["Dressed <b>up</b>"]
    assert dressed["labels"] == ["alpha", "mid", "zeta"]
    assert dressed["priority"] == "critical" and dressed["current_column"] == "Todo"
    assert dressed["claimed_by"] is not None and dressed["lease_expires_at"].endswith("Z")
    assert dressed["is_blocked"] is True and len(dressed["blocked_by"]) == 2
    assert shown["Blocked by a finished one"]["is_blocked"] is False
    assert shown["Lapsed claim"]["claimed_by"] is None
    assert shown["Lapsed claim"]["lease_expires_at"] is None
    assert shown["Bare"]["assignee"] is None and shown["Bare"]["blocked_by"] == []


@pytest.mark.django_db
def test_every_read_shows_the_same(varied_board, user):
    by_queryset = shown_by_title(ticket_queryset().filter(board=varied_board))
    assert len(by_queryset) == 5
    assert shown_by_title(board_tickets(actor=user, board_id=varied_board.pk)) == by_queryset
    # Without the last-column annotation the blocked check asks for it itself.
    assert shown_by_title(Ticket.objects.filter(board=varied_board)) == by_queryset


@pytest.mark.django_db
def test_the_serializer_events_and_mcp_show_the_representation(varied_board):
    ticket = ticket_queryset().get(title="Dressed <b>up</b>")
    shown = ticket_representation(ticket)
    assert TicketSerializer(ticket).data == shown
    assert task_detail(ticket) == shown
    blocked = ticket_queryset().get(title="Blocked by a finished one")
    events = BoardEvent.objects.filter(board=varied_board).order_by("seq")
    payloads = [event.payload for event in events if event.payload.get("id") == blocked.pk]
    assert payloads[-1] == ticket_representation(blocked)


@pytest.mark.django_db
def test_it_follows_the_current_time_zone(varied_board):
    ticket = ticket_queryset().filter(board=varied_board).first()
    with timezone.override("Asia/Kolkata"):
        shown = ticket_representation(ticket)
    assert shown["created_at"].endswith("+05:30")
    assert ticket_representation(ticket)["created_at"].endswith("Z")
