"""GET /api/tickets/: filters, board order and the pagination envelope."""

import pytest
from django.conf import settings

from tests.factories import make_board, make_ticket
from tests.tickets.helpers import assert_error

ENVELOPE = {"items", "total", "page", "page_size", "total_pages", "has_next", "has_previous"}


def titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["title"] for item in response.json()["items"]]


@pytest.fixture
def tickets(user, other_user, board):
    """Two boards; the first holds tickets that differ in every filtered field."""
    other_board = make_board(user, "Other")
    make_ticket(user, board, "Fix login bug", priority="high", assignee="bob", labels=["bug"])
    make_ticket(user, board, "Write docs", description="About the LOGIN page", labels=["docs"])
    make_ticket(user, board, "Ship it", column="Done", priority="critical", labels=["bug", "ops"])
    make_ticket(user, board, "Triage", column="In Progress", assignee="alice")
    make_ticket(user, other_board, "Elsewhere", priority="high", labels=["bug"])
    return other_board


def test_board_filter_lists_in_board_order(api, board, tickets):
    response = api.get(f"/api/tickets/?board_id={board.pk}")
    assert titles(response) == ["Fix login bug", "Write docs", "Triage", "Ship it"]


def test_without_filters_every_ticket_is_listed(api, board, tickets):
    assert len(titles(api.get("/api/tickets/"))) == 5
    assert api.get("/api/tickets").json()["total"] == 5


@pytest.mark.parametrize(
    "query, expected",
    [
        ("column=Done", ["Ship it"]),
        ("column=in%20progress", ["Triage"]),
        ("column=Nowhere", []),
        ("current_column=Done", ["Ship it"]),  # the name a ticket is read with
        ("column=Done&current_column=Done", ["Ship it"]),
        ("priority=high", ["Fix login bug"]),
        ("priority=critical", ["Ship it"]),
        ("priority=low", []),
        ("assignee=bob", ["Fix login bug"]),
        ("assignee=alice", ["Triage"]),
        ("assignee=nobody", []),
        ("label=bug", ["Fix login bug", "Ship it"]),
        ("label=ops", ["Ship it"]),
        ("label=none", []),
        ("q=login", ["Fix login bug", "Write docs"]),
        ("q=SHIP", ["Ship it"]),
        ("q=nothing-matches", []),
        ("label=bug&priority=critical", ["Ship it"]),
        ("label=bug&q=login", ["Fix login bug"]),
    ],
)
def test_filters(api, board, tickets, query, expected):
    assert titles(api.get(f"/api/tickets/?board_id={board.pk}&{query}")) == expected


def test_filters_span_boards_without_board_id(api, board, tickets):
    assert titles(api.get("/api/tickets/?label=bug&priority=high")) == [
        "Fix login bug",
        "Elsewhere",
    ]


def test_unknown_board_is_404_as_a_board_one_may_not_read(api, board, tickets):
    response = api.get("/api/tickets/?board_id=999999")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Board 999999 does not exist."


def test_pagination_envelope(api, board, user):
    for index in range(7):
        make_ticket(user, board, f"T{index}")
    first = api.get(f"/api/tickets/?board_id={board.pk}&page_size=3")
    assert first.status_code == 200
    body = first.json()
    assert set(body) == ENVELOPE
    assert [item["title"] for item in body["items"]] == ["T0", "T1", "T2"]
    assert body["total"] == 7 and body["page"] == 1 and body["page_size"] == 3
    assert body["total_pages"] == 3
    assert body["has_next"] is True and body["has_previous"] is False

    last = api.get(f"/api/tickets/?board_id={board.pk}&page_size=3&page=3").json()
    assert [item["title"] for item in last["items"]] == ["T6"]
    assert last["has_next"] is False and last["has_previous"] is True

    beyond = api.get(f"/api/tickets/?board_id={board.pk}&page_size=3&page=4").json()
    assert beyond["items"] == [] and beyond["total"] == 7


def test_default_page_size_and_empty_envelope(api, board):
    body = api.get(f"/api/tickets/?board_id={board.pk}").json()
    assert body["items"] == [] and body["total"] == 0
    assert body["page_size"] == settings.REST_FRAMEWORK["PAGE_SIZE"]
    assert body["total_pages"] == 1
    assert body["has_next"] is False and body["has_previous"] is False


def test_page_size_at_the_maximum_is_accepted(api, board):
    response = api.get(f"/api/tickets/?page_size={settings.API_MAX_PAGE_SIZE}")
    assert response.status_code == 200
    assert response.json()["page_size"] == settings.API_MAX_PAGE_SIZE


@pytest.mark.parametrize(
    "query, field",
    [
        (f"page_size={settings.API_MAX_PAGE_SIZE + 1}", "page_size"),
        ("page_size=0", "page_size"),
        ("page_size=-5", "page_size"),
        ("page_size=abc", "page_size"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page=1.5", "page"),
        ("priority=urgent", "priority"),
        ("priority=HIGH", "priority"),
        ("board_id=abc", "board_id"),
        ("board_id=0", "board_id"),
        ("board_id=99999999999999999999999", "board_id"),
        ("q=" + "x" * 201, "q"),
        ("q=a%00b", "q"),
        ("column=Done&current_column=Backlog", "current_column"),
    ],
)
def test_bad_query_parameters_are_400(api, board, query, field):
    assert_error(api.get(f"/api/tickets/?{query}"), 400, field=field)


def test_items_have_the_ticket_representation(api, board, user):
    make_ticket(user, board, "One", labels=["b", "a"], assignee="alice")
    item = api.get(f"/api/tickets/?board_id={board.pk}").json()["items"][0]
    assert item == api.get(f"/api/tickets/{item['id']}").json()
    assert item["labels"] == ["a", "b"]


def test_anonymous_cannot_list(anon, board):
    response = anon.get("/api/tickets/")
    assert_error(response, response.status_code, code="not_authenticated")
    assert response.status_code in (401, 403)


def test_a_page_far_past_the_end_is_empty(api, board, user):
    make_ticket(user, board, "Only")
    body = api.get("/api/tickets/?page=99999999999999999999999").json()
    assert body["items"] == [] and body["total"] == 1 and body["has_next"] is False
