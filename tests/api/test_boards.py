"""Boards: /api/boards/ and /api/boards/{id}[/tickets]."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from boards.models import Board, BoardEvent, Column
from comments.models import Comment
from comments.services import comment_create
from history.models import TicketHistory
from tests.api.envelope import assert_error, error_fields
from tests.factories import make_board, make_ticket
from tickets.models import Label, Ticket

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------- list


def test_list_is_an_envelope_page_with_ticket_counts(api, user):
    busy = make_board(user, "Busy")
    empty = make_board(user, "Empty")
    for _ in range(3):
        make_ticket(user, busy)
    other = make_board(user, "Other")
    make_ticket(user, other)

    body = api.get("/api/boards/").json()

    assert body["total"] == 3 and body["page"] == 1 and body["total_pages"] == 1
    assert body["has_next"] is False and body["has_previous"] is False
    counts = {item["name"]: item["ticket_count"] for item in body["items"]}
    assert counts == {"Busy": 3, "Empty": 0, "Other": 1}
    by_id = {item["id"]: item for item in body["items"]}
    assert by_id[empty.pk]["columns"] == ["Backlog", "In Progress", "Testing", "Done"]
    assert by_id[busy.pk]["created_by"] == "alice"


def test_list_pages(api, user):
    for index in range(5):
        make_board(user, f"B{index}")
    body = api.get("/api/boards/?page=2&page_size=2").json()
    assert [item["name"] for item in body["items"]] == ["B2", "B3"]
    assert (body["total"], body["total_pages"], body["has_next"], body["has_previous"]) == (
        5,
        3,
        True,
        True,
    )
    past_the_end = api.get("/api/boards/?page=99999999999999999999999").json()
    assert past_the_end["items"] == [] and past_the_end["total"] == 5


@pytest.mark.parametrize("query", ["page=0", "page=x", "page_size=0", "page_size=100000"])
def test_list_refuses_bad_paging(api, query):
    assert_error(api.get(f"/api/boards/?{query}"), 400, "invalid")


def _list_queries(api) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = api.get("/api/boards/?page_size=100")
    assert response.status_code == 200
    return len(queries)


def test_list_costs_the_same_for_3_and_30_boards(api, user):
    for index in range(3):
        make_ticket(user, make_board(user, f"A{index}"))
    few = _list_queries(api)
    for index in range(27):
        make_ticket(user, make_board(user, f"B{index}"))
    many = _list_queries(api)
    assert api.get("/api/boards/?page_size=100").json()["total"] == 30
    assert few == many
    assert many <= 6  # session, user, count, boards, columns (+ savepoints on some DBs)


def test_list_needs_login(anon):
    assert_error(anon.get("/api/boards/"), 401, "not_authenticated")


# ---------------------------------------------------------------- create


def test_create_gets_the_default_columns(api):
    response = api.post("/api/boards/", {"name": "  Launch  "}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Launch"
    assert body["columns"] == ["Backlog", "In Progress", "Testing", "Done"]
    assert body["ticket_count"] == 0 and body["created_by"] == "alice"
    assert body["description"] == ""
    board = Board.objects.get(pk=body["id"])
    assert list(board.columns.order_by("position").values_list("name", "position")) == [
        ("Backlog", 0),
        ("In Progress", 1),
        ("Testing", 2),
        ("Done", 3),
    ]
    assert BoardEvent.objects.filter(board=board, type="board_created").count() == 1


def test_create_with_custom_columns_and_description(api):
    payload = {"name": "Ops", "description": "Run it", "columns": ["Todo", "Doing", "Done"]}
    response = api.post("/api/boards/", payload, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["columns"] == ["Todo", "Doing", "Done"]
    assert response.json()["description"] == "Run it"


def test_create_from_the_browsable_api_form(api):
    """An HTML form posts multipart data with its CSRF token as one more field."""
    response = api.post(
        "/api/boards/", {"name": "From a form", "csrfmiddlewaretoken": "token"}, format="multipart"
    )
    assert response.status_code == 201, response.content
    assert response.json()["columns"] == ["Backlog", "In Progress", "Testing", "Done"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": 5, "columns": "Todo"}, "columns"),
        ({"name": "B", "columns": []}, "columns"),
        ({"name": "B", "columns": ["Todo", "Todo"]}, "columns[1].name"),
        ({"name": "B", "columns": ["Todo", "todo "]}, "columns[1].name"),
        ({"name": "B", "columns": ["Todo", ""]}, "columns[1]"),
        ({"name": "B", "columns": ["c" * 101]}, "columns[0]"),
        ({"name": "B", "columns": [f"c{i}" for i in range(31)]}, "columns"),
        ({"name": "B", "description": "d" * 20_001}, "description"),
        ({"name": "B", "colour": "red"}, "colour"),
    ],
)
def test_create_refuses_bad_input(api, payload, field):
    error = assert_error(api.post("/api/boards/", payload, format="json"), 400, "invalid")
    assert field in error_fields(error), error
    assert not Board.objects.exists()


# ---------------------------------------------------------------- retrieve


def test_retrieve_one(api, board, user):
    make_ticket(user, board)
    body = api.get(f"/api/boards/{board.pk}").json()
    assert body["id"] == board.pk and body["name"] == "Project"
    assert body["ticket_count"] == 1
    assert api.get(f"/api/boards/{board.pk}/").json() == body


@pytest.mark.parametrize("path", ["/api/boards/9999", "/api/boards/abc", "/api/boards/1.5"])
def test_retrieve_unknown_is_404(api, path):
    assert_error(api.get(path), 404, "not_found")


# ---------------------------------------------------------------- update


def test_put_and_patch_change_name_and_description(api, board):
    response = api.put(
        f"/api/boards/{board.pk}", {"name": "Renamed", "description": "New"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert (response.json()["name"], response.json()["description"]) == ("Renamed", "New")

    response = api.patch(f"/api/boards/{board.pk}", {"description": ""}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["name"], response.json()["description"]) == ("Renamed", "")
    board.refresh_from_db()
    assert (board.name, board.description) == ("Renamed", "")
    assert BoardEvent.objects.filter(board=board, type="board_updated").count() == 2


def test_update_accepts_what_get_returned(api, board):
    """A client may send back the representation it read; read-only fields are ignored."""
    body = api.get(f"/api/boards/{board.pk}").json()
    del body["columns"]
    body["name"] = "Round trip"
    body["ticket_count"] = 99
    response = api.put(f"/api/boards/{board.pk}", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Round trip"
    assert response.json()["ticket_count"] == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": None}, "name"),
        ({"nmae": "Typo"}, "nmae"),
        ({"columns": ["A", "B"]}, "columns"),
    ],
)
def test_update_refuses_bad_or_unknown_fields(api, board, payload, field):
    error = assert_error(api.patch(f"/api/boards/{board.pk}", payload, format="json"), 400)
    assert field in error_fields(error), error
    board.refresh_from_db()
    assert board.name == "Project"
    assert list(board.columns.values_list("name", flat=True)) == [
        "Backlog",
        "In Progress",
        "Testing",
        "Done",
    ]


def test_update_unknown_board_is_404(api):
    assert_error(api.patch("/api/boards/9999", {"name": "X"}, format="json"), 404, "not_found")


# ---------------------------------------------------------------- delete


def test_delete_removes_the_board_and_everything_in_it(api, board, user):
    ticket = make_ticket(user, board, labels=["bug"])
    comment_create(actor=user, ticket_id=ticket.pk, text="note")
    keep = make_board(user, "Keep")
    kept_ticket = make_ticket(user, keep)
    comment_create(actor=user, ticket_id=kept_ticket.pk, text="stays")
    assert TicketHistory.objects.filter(board=board).exists()

    response = api.delete(f"/api/boards/{board.pk}")

    assert response.status_code == 204, response.content
    assert not Board.objects.filter(pk=board.pk).exists()
    assert not Ticket.objects.filter(board_id=board.pk).exists()
    assert not Column.objects.filter(board_id=board.pk).exists()
    assert not Comment.objects.filter(ticket_id=ticket.pk).exists()
    assert not Label.objects.filter(board_id=board.pk).exists()
    assert not TicketHistory.objects.filter(board_id=board.pk).exists()
    assert not BoardEvent.objects.filter(board_id=board.pk).exists()
    assert_error(api.get(f"/api/boards/{board.pk}"), 404)
    assert_error(api.get(f"/api/history/tickets/{ticket.pk}/history"), 404)
    # The other board is untouched.
    assert Ticket.objects.filter(board=keep).count() == 1
    assert Comment.objects.filter(ticket=kept_ticket).count() == 1
    assert TicketHistory.objects.filter(board=keep).exists()


def test_delete_unknown_board_is_404(api):
    assert_error(api.delete("/api/boards/9999"), 404, "not_found")


# ---------------------------------------------------------------- tickets of a board


def test_board_tickets_in_board_order(api, board, user):
    first = make_ticket(user, board, "First")
    done = make_ticket(user, board, "Finished", column="Done")
    top = make_ticket(user, board, "Top", position="top")
    make_ticket(user, make_board(user, "Elsewhere"), "Not here")

    response = api.get(f"/api/boards/{board.pk}/tickets")

    assert response.status_code == 200, response.content
    rows = [(row["id"], row["current_column"]) for row in response.json()]
    assert rows == [(top.pk, "Backlog"), (first.pk, "Backlog"), (done.pk, "Done")]


def test_board_tickets_cost_the_same_for_2_and_20_tickets(api, board, user):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get(f"/api/boards/{board.pk}/tickets").status_code == 200
        return len(captured)

    for _ in range(2):
        make_ticket(user, board, labels=["a"])
    few = queries()
    for _ in range(18):
        make_ticket(user, board, labels=["b"])
    assert few == queries()


def test_board_tickets_of_unknown_board_is_404(api):
    assert_error(api.get("/api/boards/9999/tickets"), 404, "not_found")
