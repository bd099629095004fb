"""Bad input gets the one error envelope with a 4xx status, never a 500."""

import pytest

from tests.api.envelope import assert_error, error_fields
from tests.factories import make_ticket

pytestmark = pytest.mark.django_db

PERIOD_ENDPOINTS = ["statistics", "performance", "flow", "drag-drop/metrics"]
BAD_PERIODS = [
    ({"days": "0"}, "days"),
    ({"days": "-3"}, "days"),
    ({"days": "abc"}, "days"),
    ({"days": "1.5"}, "days"),
    ({"days": "99999"}, "days"),
    ({"from": "2024-13-01"}, "from"),
    ({"from": "yesterday"}, "from"),
    ({"to": "2024-02-30"}, "to"),
    ({"from": "2024-03-02", "to": "2024-03-01"}, "from"),
    ({"from": "1900-01-01", "to": "2024-03-01"}, "from"),
    ({"days": "7", "from": "2024-03-01"}, "days"),
]


@pytest.mark.parametrize("endpoint", PERIOD_ENDPOINTS)
@pytest.mark.parametrize(("params", "field"), BAD_PERIODS)
def test_bad_periods_are_400(api, board, endpoint, params, field):
    response = api.get(f"/api/statistics/boards/{board.pk}/{endpoint}", params)
    error = assert_error(response, 400)
    assert field in error_fields(error), error


@pytest.mark.parametrize(
    "tail", [*PERIOD_ENDPOINTS, "tickets/colors", "statistics/", "flow/", "tickets/colors/"]
)
def test_unknown_board_is_404(api, tail):
    assert_error(api.get(f"/api/statistics/boards/999999/{tail}"), 404, "not_found")


def test_unknown_ticket_is_404(api):
    assert_error(api.get("/api/statistics/tickets/999999/statistics"), 404, "not_found")


def test_deleted_ticket_is_404(api, user, board):
    ticket = make_ticket(user, board)
    assert api.delete(f"/api/tickets/{ticket.pk}").status_code == 204
    assert_error(api.get(f"/api/statistics/tickets/{ticket.pk}/statistics"), 404, "not_found")


def test_unknown_column_is_400(api, board):
    response = api.get(f"/api/statistics/boards/{board.pk}/tickets/colors", {"column": "Nope"})
    error = assert_error(response, 400, "unknown_column")
    assert error_fields(error) == {"column"}


def test_too_long_column_is_400(api, board):
    response = api.get(f"/api/statistics/boards/{board.pk}/tickets/colors", {"column": "x" * 500})
    assert "column" in error_fields(assert_error(response, 400))


@pytest.mark.parametrize("endpoint", [*PERIOD_ENDPOINTS, "tickets/colors"])
def test_anonymous_is_401(anon, board, endpoint):
    response = anon.get(f"/api/statistics/boards/{board.pk}/{endpoint}")
    assert_error(response, 401, "not_authenticated")


def test_an_agent_reads_with_its_bearer_token(agent_api, board):
    response = agent_api.get(f"/api/statistics/boards/{board.pk}/statistics", {"days": 7})
    assert response.status_code == 200, response.content
    assert response.json()["period"]["days"] == 7


def test_a_future_end_is_cut_at_today(api, board):
    response = api.get(f"/api/statistics/boards/{board.pk}/flow", {"to": "2999-01-01"})
    assert response.status_code == 200, response.content
    period = response.json()["period"]
    assert period["days"] == 30 and period["to"] < "2999-01-01"
