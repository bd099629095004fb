"""The ticket representation is built by hand for speed; DRF's declared fields define it.
These tests hold the two equal for tickets in every state the representation shows."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import add_member, make_agent, make_board, make_ticket
from tickets.models import Ticket
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


def assert_same_as_fields(tickets) -> None:
    serializer = TicketSerializer()
    compared = 0
    for ticket in tickets:
        assert serializer.to_representation(ticket) == serializer.field_representation(ticket)
        compared += 1
    assert compared == 5


@pytest.mark.django_db
def test_the_fast_representation_equals_the_declared_fields(varied_board, user):
    assert_same_as_fields(ticket_queryset().filter(board=varied_board))
    assert_same_as_fields(board_tickets(actor=user, board_id=varied_board.pk))
    # Without the last-column annotation the blocked check asks for it itself.
    assert_same_as_fields(Ticket.objects.filter(board=varied_board))


@pytest.mark.django_db
def test_it_follows_the_current_time_zone(varied_board):
    with timezone.override("Asia/Kolkata"):
        assert_same_as_fields(ticket_queryset().filter(board=varied_board))
        shown = TicketSerializer(ticket_queryset().filter(board=varied_board).first()).data
    assert shown["created_at"].endswith("+05:30")


@pytest.mark.django_db
def test_it_shows_claims_and_blockers(varied_board):
    shown = {
        row["title"]: row
        for row in TicketSerializer(ticket_queryset().filter(board=varied_board), many=True).data
    }
    dressed = shown["Dressed <b>up</b>"]
    assert dressed["labels"] == ["alpha", "mid", "zeta"]
    assert dressed["claimed_by"] is not None and dressed["lease_expires_at"].endswith("Z")
    assert dressed["is_blocked"] is True and len(dressed["blocked_by"]) == 2
    assert shown["Blocked by a finished one"]["is_blocked"] is False
    assert shown["Lapsed claim"]["claimed_by"] is None
    assert shown["Lapsed claim"]["lease_expires_at"] is None
