"""The big-board reads: the board API read and the board page attach labels and
blockers with board-wide queries and render cards without a template per card. They
must answer exactly what the per-ticket paths answer, in a constant number of queries."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.factories import add_member, make_agent, make_board, make_ticket
from tickets.services import ticket_claim, ticket_set_dependencies

pytestmark = pytest.mark.django_db

# session, user, role, board-order tickets, label links, dependency links, columns, people
BOARD_READ_QUERIES = 8
# the page's share: session, user, the board and its access, columns, colours, tickets,
# label links, dependency links, labels and people for the filters
BOARD_PAGE_QUERIES = 15


def _busy_board(user, size: int):
    """A board whose cards carry labels, blockers (one of them finished) and claims, so
    every card shape is rendered."""
    board = make_board(user, "Busy")
    agent, _ = make_agent()
    add_member(board, agent, "agent")
    done = make_ticket(user, board, "Finished blocker", column="Done")
    tickets = [
        make_ticket(
            user,
            board,
            f"Card <{index}> & 'quotes'",
            labels=["zeta", "alpha", f"l-{index % 3}"][: 1 + index % 3],
            assignee=user.username if index % 2 else None,
            priority=["critical", "high", "medium", "low"][index % 4],
        )
        for index in range(size)
    ]
    for index, ticket in enumerate(tickets):
        blockers = [done.pk, tickets[0].pk][: index % 3]
        if ticket.pk not in blockers and blockers:
            ticket_set_dependencies(actor=user, ticket_id=ticket.pk, blocked_by=blockers)
    ticket_claim(actor=agent, ticket_id=tickets[0].pk)
    return board, tickets


def test_board_read_answers_what_each_ticket_read_answers(api, user):
    board, tickets = _busy_board(user, 9)

    rows = api.get(f"/api/boards/{board.pk}/tickets").json()

    assert len(rows) == len(tickets) + 1
    assert any(row["blocked_by"] and row["is_blocked"] for row in rows)
    assert any(row["blocked_by"] and not row["is_blocked"] for row in rows)
    for row in rows:
        assert row == api.get(f"/api/tickets/{row['id']}").json()


def test_board_read_costs_the_same_queries_for_3_and_30_tickets(api, user):
    def queries(board) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get(f"/api/boards/{board.pk}/tickets").status_code == 200
        return len(captured)

    small, _ = _busy_board(user, 3)
    big, _ = _busy_board(user, 30)
    assert queries(small) == queries(big) <= BOARD_READ_QUERIES


def _page_cards(html: str) -> dict[int, str]:
    found = re.findall(r'<article class="card[^>]*? data-id="(\d+)".*?</article>', html, re.S)
    cards = re.findall(r'<article class="card.*?</article>', html, re.S)
    return dict(zip((int(pk) for pk in found), cards, strict=True))


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_page_cards_are_the_fragment_cards_and_escaped(user):
    board, tickets = _busy_board(user, 6)
    client = _logged_in(user)

    page = _page_cards(client.get(f"/boards/{board.pk}/").content.decode())

    assert len(page) == len(tickets) + 1
    for ticket in tickets:
        fragment = client.get(f"/boards/{board.pk}/cards/{ticket.pk}/").content.decode()
        assert page[ticket.pk] == fragment.strip()
        assert "Card &lt;" in page[ticket.pk] and "&amp; &#x27;quotes&#x27;" in page[ticket.pk]
        assert "<script" not in page[ticket.pk]
    claimed = page[tickets[0].pk]
    agent_name = tickets[0].__class__.objects.get(pk=tickets[0].pk).claimed_by.username
    assert "is-claimed" in claimed and agent_name in claimed
    labels = re.findall(r'<li class="label" style="--h: \d+">([^<]+)</li>', page[tickets[2].pk])
    assert labels == ["alpha", "l-2", "zeta"]
    assert "Blocked by #" in page[tickets[2].pk]


def test_page_costs_the_same_queries_for_3_and_30_tickets(user):
    client = _logged_in(user)

    def queries(board) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/boards/{board.pk}/").status_code == 200
        return len(captured)

    small, _ = _busy_board(user, 3)
    big, _ = _busy_board(user, 30)
    assert queries(small) == queries(big) <= BOARD_PAGE_QUERIES
