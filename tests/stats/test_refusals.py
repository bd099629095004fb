"""Refused moves (WIP limit, someone else's claim, a stale version) are recorded and
counted by reason in the drag-drop metrics."""

import pytest

from boards.services import board_set_columns
from core.errors import Conflict
from stats import selectors
from stats.models import RefusedMove
from stats.periods import period_from
from tests.factories import make_ticket
from tickets.services import ticket_claim, ticket_move
from tickets.signals import refusals_signalled

pytestmark = pytest.mark.django_db


def limit_in_progress(user, board, limit: int) -> None:
    columns = [
        {"id": c.id, "name": c.name, "wip_limit": limit if c.name == "In Progress" else None}
        for c in board.columns.order_by("position")
    ]
    board_set_columns(actor=user, board_id=board.pk, columns=columns)


def refused(board) -> dict:
    metrics = selectors.drag_drop_metrics(board_id=board.pk, period=period_from(days=1))
    return metrics["refused"]


def refused_move(**move) -> None:
    """A move as tickets.services.ticket_move makes it once wrapped in refusals_signalled."""
    actor, ticket_id, column = move["actor"], move["ticket_id"], move["column"]
    with (
        pytest.raises(Conflict),
        refusals_signalled(actor=actor, ticket_id=ticket_id, column=column),
    ):
        ticket_move(**move)


def test_each_reason_is_recorded(user, other_user, agent, board):
    first, second, third = (make_ticket(user, board) for _ in range(3))
    limit_in_progress(user, board, 1)
    ticket_move(actor=user, ticket_id=first.pk, column="In Progress")

    refused_move(actor=user, ticket_id=second.pk, column="In Progress")
    refused_move(actor=user, ticket_id=second.pk, column="Testing", expected_version=99)
    ticket_claim(actor=agent, ticket_id=third.pk)
    refused_move(actor=other_user, ticket_id=third.pk, column="Testing")

    assert refused(board) == {
        "total": 3,
        "by_reason": {"wip_limit": 1, "claimed": 1, "version_conflict": 1, "review_required": 0},
    }
    row = RefusedMove.objects.get(reason="wip_limit")
    assert (row.board_id, row.ticket_id, row.actor, row.to_column) == (
        board.pk,
        second.pk,
        user,
        "In Progress",
    )


def test_other_errors_are_not_refusals(user, board):
    ticket = make_ticket(user, board)
    with (
        pytest.raises(Exception, match="Unknown column"),
        refusals_signalled(actor=user, ticket_id=ticket.pk, column="Nope"),
    ):
        ticket_move(actor=user, ticket_id=ticket.pk, column="Nope")
    assert refused(board)["total"] == 0


def test_a_refusal_through_the_api_is_counted(api, user, board):
    """Needs tickets.services.ticket_move to run inside refusals_signalled."""
    first, second = make_ticket(user, board), make_ticket(user, board)
    limit_in_progress(user, board, 1)
    moved = api.post(f"/api/tickets/{first.pk}/move", {"column": "In Progress"}, "json")
    assert moved.status_code == 200, moved.content
    response = api.post(f"/api/tickets/{second.pk}/move", {"column": "In Progress"}, "json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "wip_limit"
    metrics = api.get(f"/api/statistics/boards/{board.pk}/drag-drop/metrics").json()
    assert metrics["refused"]["by_reason"]["wip_limit"] == 1
