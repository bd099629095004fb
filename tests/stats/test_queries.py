"""Every statistic costs the same number of queries on a small board and on a larger one."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from stats import selectors
from stats.periods import period_from
from tests.factories import make_board, make_ticket
from tickets.models import Ticket
from tickets.services import ticket_delete, ticket_move

pytestmark = pytest.mark.django_db

# Cold: the board's version, then the figures. Warm: the version only (colours also
# read the tickets, which are never cached, so their time in column is always now).
EXPECTED = {
    "statistics": (5, 1),
    "colors": (4, 2),
    "board_ticket_colors": (4, 2),
    "performance": (4, 1),
    "flow": (3, 1),
    "drag_drop": (3, 3),
    "ticket": (5, 3),
}


def grow(user, board, count: int) -> int:
    """Add `count` tickets spread over the columns (some deleted); returns the id of one
    that went through In Progress to Done."""
    kept = None
    for index in range(count):
        ticket = make_ticket(user, board)
        if index % 2:
            ticket_move(actor=user, ticket_id=ticket.pk, column="In Progress")
        if index % 3 == 1:
            ticket_move(actor=user, ticket_id=ticket.pk, column="Done")
        if index % 5 == 4:
            ticket_delete(actor=user, ticket_id=ticket.pk)
        kept = kept or (ticket.pk if index == 1 else None)
    return kept


def calls(board_id: int, ticket_id: int) -> dict:
    period = period_from()
    card_ids = list(Ticket.objects.filter(board_id=board_id).values_list("pk", flat=True))
    return {
        "statistics": lambda: selectors.board_statistics(board_id=board_id, period=period),
        "colors": lambda: selectors.ticket_colors(board_id=board_id),
        "board_ticket_colors": lambda: selectors.board_ticket_colors(board_id, card_ids),
        "performance": lambda: selectors.board_performance(board_id=board_id, period=period),
        "flow": lambda: selectors.board_flow(board_id=board_id, period=period),
        "drag_drop": lambda: selectors.drag_drop_metrics(board_id=board_id, period=period),
        "ticket": lambda: selectors.ticket_statistics(ticket_id=ticket_id),
    }


def count_queries(call) -> int:
    with CaptureQueriesContext(connection) as queries:
        call()
    return len(queries)


def measure(board_id: int, ticket_id: int) -> dict:
    counts = {}
    for name, call in calls(board_id, ticket_id).items():
        cache.clear()
        counts[name] = (count_queries(call), count_queries(call))
    return counts


def test_query_counts_do_not_grow_with_the_board(user):
    board = make_board(user, "Grows")
    small = measure(board.pk, grow(user, board, 3))
    large = measure(board.pk, grow(user, board, 40))
    assert small == EXPECTED
    assert large == EXPECTED


def test_api_query_counts_do_not_grow_with_the_board(user, api):
    board = make_board(user, "Grows")
    paths = [
        f"/api/statistics/boards/{board.pk}/{tail}"
        for tail in ("statistics", "tickets/colors", "performance", "flow", "drag-drop/metrics")
    ]

    def api_counts(ticket_id: int) -> list[int]:
        counts = []
        for path in [*paths, f"/api/statistics/tickets/{ticket_id}/statistics"]:
            cache.clear()
            with CaptureQueriesContext(connection) as queries:
                assert api.get(path).status_code == 200
            counts.append(len(queries))
        return counts

    small = api_counts(grow(user, board, 3))
    assert small == api_counts(grow(user, board, 40))
