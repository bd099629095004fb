"""Cached figures are never stale after a write: the cache key carries the board's event
sequence, which every committed change bumps."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from boards.services import board_set_columns
from stats import selectors
from stats.periods import period_from
from tests.stats.scenario import HOUR

pytestmark = pytest.mark.django_db


def colours(api, known) -> dict:
    response = api.get(f"/api/statistics/boards/{known.board.pk}/tickets/colors")
    assert response.status_code == 200, response.content
    return response.json()


def move(api, ticket_id: int, column: str) -> None:
    response = api.post(f"/api/tickets/{ticket_id}/move", {"column": column}, "json")
    assert response.status_code == 200, response.content


def colour_of(body: dict, ticket_id: int) -> str | None:
    return next((row["color"] for row in body["tickets"] if row["ticket_id"] == ticket_id), None)


def test_a_moved_ticket_changes_colour_in_the_very_next_response(api, known):
    o3 = known.ids["o3"]
    assert colour_of(colours(api, known), o3) == "red"  # 8h > p85 (6h); now cached

    move(api, o3, "Testing")
    after = colours(api, known)
    assert colour_of(after, o3) == "grey"  # Testing has only 3 samples
    ticket = api.get(f"/api/statistics/tickets/{o3}/statistics").json()
    assert (ticket["column"], ticket["color"]) == ("Testing", "grey")
    # Its 8-hour stay in progress is now history: 11 samples, median 4h, p85 8h.
    in_progress = next(c for c in after["columns"] if c["name"] == "In Progress")
    assert (in_progress["samples"], in_progress["median_seconds"]) == (11, 4 * HOUR)
    assert in_progress["p85_seconds"] == pytest.approx(8 * HOUR, abs=120)  # o3's own stay

    move(api, o3, "In Progress")
    back = colours(api, known)
    assert colour_of(back, o3) == "green"  # a fresh stay
    row = next(row for row in back["tickets"] if row["ticket_id"] == o3)
    assert row["time_in_column_seconds"] < 60


def test_cached_figures_equal_fresh_ones_and_cost_one_query(known):
    board_id = known.board.pk
    period = period_from()
    calls = {
        "statistics": lambda: selectors.board_statistics(board_id=board_id, period=period),
        "performance": lambda: selectors.board_performance(board_id=board_id, period=period),
        "flow": lambda: selectors.board_flow(board_id=board_id, period=period),
    }
    for name, call in calls.items():
        cold = call()
        with CaptureQueriesContext(connection) as queries:
            warm = call()
        assert warm == cold, name
        assert len(queries) == 1, (name, [q["sql"] for q in queries])  # the board's version


def test_a_column_rename_shows_at_once(user, known):
    board = known.board
    flow = selectors.board_flow(board_id=board.pk, period=period_from(days=1))
    assert flow["days"][-1]["counts"]["In Progress"] == 3
    columns = selectors.board_columns(board.pk)
    specs = [{"id": c.id, "name": "Doing" if c.name == "In Progress" else c.name} for c in columns]
    board_set_columns(actor=user, board_id=board.pk, columns=specs)
    flow = selectors.board_flow(board_id=board.pk, period=period_from(days=1))
    # Open stays count under the ticket's current column, whatever their history says.
    assert flow["columns"] == ["Backlog", "Doing", "Testing", "Done"]
    assert flow["days"][-1]["counts"]["Doing"] == 3
