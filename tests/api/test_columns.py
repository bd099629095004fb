"""Columns: GET and PUT /api/boards/{id}/columns (the whole ordered list)."""

import pytest

from boards.models import BoardEvent
from tests.api.envelope import assert_error, error_fields
from tests.factories import make_board, make_ticket

pytestmark = pytest.mark.django_db


def columns(api, board) -> list[dict]:
    response = api.get(f"/api/boards/{board.pk}/columns")
    assert response.status_code == 200, response.content
    return response.json()


def put(api, board, specs):
    return api.put(f"/api/boards/{board.pk}/columns", {"columns": specs}, format="json")


def specs_of(rows: list[dict]) -> list[dict]:
    """What a client sends back to keep the columns as they are."""
    return [{"id": row["id"], "name": row["name"], "wip_limit": row["wip_limit"]} for row in rows]


def test_get_lists_columns_with_counts_and_wip(api, user):
    board = make_board(user, "B", columns=["Todo", "Doing", "Done"])
    rows = columns(api, board)
    doing = rows[1]
    specs = specs_of(rows)
    specs[1]["wip_limit"] = 2
    assert put(api, board, specs).status_code == 200
    make_ticket(user, board, column="Doing")
    make_ticket(user, board, column="Doing")
    make_ticket(user, board, column="Todo")

    rows = columns(api, board)

    assert [(r["name"], r["position"], r["ticket_count"]) for r in rows] == [
        ("Todo", 0, 1),
        ("Doing", 1, 2),
        ("Done", 2, 0),
    ]
    assert (rows[1]["id"], rows[1]["wip_limit"], rows[1]["is_full"]) == (doing["id"], 2, True)
    assert (rows[0]["wip_limit"], rows[0]["is_full"]) == (None, False)


def test_get_unknown_board_is_404(api):
    assert_error(api.get("/api/boards/9999/columns"), 404, "not_found")


def test_add_a_column(api, board):
    rows = columns(api, board)
    response = put(api, board, [*specs_of(rows[:2]), {"name": "Review"}, *specs_of(rows[2:])])
    assert response.status_code == 200, response.content
    assert [row["name"] for row in response.json()] == [
        "Backlog",
        "In Progress",
        "Review",
        "Testing",
        "Done",
    ]
    assert [row["position"] for row in response.json()] == [0, 1, 2, 3, 4]
    assert [row["id"] for row in response.json() if row["name"] != "Review"] == [
        row["id"] for row in rows
    ]
    assert api.get(f"/api/boards/{board.pk}").json()["columns"][2] == "Review"
    event = BoardEvent.objects.filter(board=board, type="columns_updated").get()
    assert [column["name"] for column in event.payload["columns"]][2] == "Review"


def test_rename_takes_the_tickets_along(api, board, user):
    ticket = make_ticket(user, board, column="Testing")
    rows = columns(api, board)
    specs = specs_of(rows)
    specs[2]["name"] = "QA"
    response = put(api, board, specs)
    assert response.status_code == 200, response.content
    assert response.json()[2] == {**rows[2], "name": "QA"}
    assert api.get(f"/api/tickets/{ticket.pk}").json()["current_column"] == "QA"


def test_reorder(api, board, user):
    ticket = make_ticket(user, board, column="Done")
    rows = columns(api, board)
    response = put(api, board, specs_of(list(reversed(rows))))
    assert response.status_code == 200, response.content
    assert [(row["id"], row["position"]) for row in response.json()] == [
        (row["id"], index) for index, row in enumerate(reversed(rows))
    ]
    assert response.json()[0]["ticket_count"] == 1
    tickets = api.get(f"/api/boards/{board.pk}/tickets").json()
    assert [(row["id"], row["current_column"]) for row in tickets] == [(ticket.pk, "Done")]


def test_swap_two_names_in_one_request(api, board, user):
    ticket = make_ticket(user, board, column="Backlog")
    rows = columns(api, board)
    specs = specs_of(rows)
    specs[0]["name"], specs[3]["name"] = "Done", "Backlog"
    response = put(api, board, specs)
    assert response.status_code == 200, response.content
    assert [(row["id"], row["name"]) for row in response.json()] == [
        (rows[0]["id"], "Done"),
        (rows[1]["id"], "In Progress"),
        (rows[2]["id"], "Testing"),
        (rows[3]["id"], "Backlog"),
    ]
    assert api.get(f"/api/tickets/{ticket.pk}").json()["current_column"] == "Done"


def test_set_keep_and_clear_wip_limit(api, board):
    rows = columns(api, board)
    specs = specs_of(rows)
    specs[1]["wip_limit"] = 3
    assert put(api, board, specs).json()[1]["wip_limit"] == 3

    # Left out, the limit stays; a rename must not drop it by accident.
    renamed = [{"id": row["id"], "name": row["name"]} for row in rows]
    renamed[1]["name"] = "Doing"
    assert put(api, board, renamed).json()[1] == {
        **rows[1],
        "name": "Doing",
        "wip_limit": 3,
        "is_full": False,
    }

    specs[1] = {"id": rows[1]["id"], "name": "Doing", "wip_limit": None}
    assert put(api, board, specs).json()[1]["wip_limit"] is None


def test_names_that_look_internal_are_just_names(api, board):
    rows = columns(api, board)
    specs = [
        {"name": f"__renaming_{rows[0]['id']}__"},
        {"name": f" renaming {rows[1]['id']}"},
        {**specs_of(rows)[0], "name": "First"},
        {**specs_of(rows)[1], "name": "Second"},
    ]
    response = put(api, board, specs)
    assert response.status_code == 200, response.content
    assert [row["name"] for row in response.json()] == [
        f"__renaming_{rows[0]['id']}__",
        f"renaming {rows[1]['id']}",
        "First",
        "Second",
    ]


def test_remove_an_empty_column(api, board, user):
    make_ticket(user, board, column="Backlog")
    rows = columns(api, board)
    response = put(api, board, specs_of([rows[0], rows[1], rows[3]]))
    assert response.status_code == 200, response.content
    assert [row["name"] for row in columns(api, board)] == ["Backlog", "In Progress", "Done"]


def test_a_removed_name_can_be_reused_by_a_new_column(api, board):
    rows = columns(api, board)
    response = put(api, board, [*specs_of(rows[:3]), {"name": "Done"}])
    assert response.status_code == 200, response.content
    assert response.json()[3]["name"] == "Done"
    assert response.json()[3]["id"] != rows[3]["id"]


def test_removing_a_column_with_tickets_is_409(api, board, user):
    make_ticket(user, board, column="Testing")
    make_ticket(user, board, column="Testing")
    before = columns(api, board)

    response = put(api, board, specs_of([before[0], before[1], before[3]]))

    error = assert_error(response, 409, "column_not_empty")
    assert "'Testing'" in error["message"] and "2 tickets" in error["message"]
    assert error["validation_errors"][0]["code"] == "column_not_empty"
    assert columns(api, board) == before


def _refused_put_cases(rows: list[dict], other_rows: list[dict]) -> dict:
    specs = specs_of(rows)
    return {
        "id of another board": [*specs, {"id": other_rows[0]["id"], "name": "Stolen"}],
        "empty list": [],
        "duplicate names": [*specs, {"name": "Backlog"}],
        "duplicate names, other case": [{**specs[0], "name": "Same"}, {**specs[1], "name": "same"}],
        "same id twice": [specs[0], {**specs[0], "name": "Twice"}, *specs[1:]],
        "wip_limit 0": [{**specs[0], "wip_limit": 0}, *specs[1:]],
        "wip_limit x": [{**specs[0], "wip_limit": "x"}, *specs[1:]],
        "wip_limit negative": [{**specs[0], "wip_limit": -1}, *specs[1:]],
        "blank name": [{**specs[0], "name": "  "}, *specs[1:]],
        "long name": [{**specs[0], "name": "n" * 101}, *specs[1:]],
        "no name": [{"id": specs[0]["id"]}, *specs[1:]],
        "not an object": ["Backlog"],
        "too many": [{"name": f"C{index}"} for index in range(31)],
        "unknown key": [{**specs[0], "colour": "red"}, *specs[1:]],
        "huge id": [{"id": 10**30, "name": "Huge"}, *specs],
        "rename then removal with tickets": [{**specs[0], "name": "Renamed"}, *specs[2:]],
    }


@pytest.mark.parametrize(
    "case",
    [
        "id of another board",
        "empty list",
        "duplicate names",
        "duplicate names, other case",
        "same id twice",
        "wip_limit 0",
        "wip_limit x",
        "wip_limit negative",
        "blank name",
        "long name",
        "no name",
        "not an object",
        "too many",
        "unknown key",
        "huge id",
        "rename then removal with tickets",
    ],
)
def test_refused_put_changes_nothing(api, board, user, case):
    make_ticket(user, board, column="In Progress")
    other = make_board(user, "Other")
    before = columns(api, board)
    events_before = BoardEvent.objects.filter(board=board).count()

    response = put(api, board, _refused_put_cases(before, columns(api, other))[case])

    expected = 409 if case == "rename then removal with tickets" else 400
    error = assert_error(response, expected)
    assert error["validation_errors"], error
    assert columns(api, board) == before
    assert BoardEvent.objects.filter(board=board).count() == events_before


@pytest.mark.parametrize("body", [{}, {"columns": None}, {"columns": "Backlog"}, []])
def test_put_needs_a_columns_list(api, board, body):
    before = columns(api, board)
    response = api.put(f"/api/boards/{board.pk}/columns", body, format="json")
    error = assert_error(response, 400, "invalid")
    assert error_fields(error) <= {"columns", "non_field_errors"}
    assert columns(api, board) == before


def test_put_unknown_board_is_404(api):
    response = api.put("/api/boards/9999/columns", {"columns": [{"name": "A"}]}, format="json")
    assert_error(response, 404, "not_found")


def test_columns_need_login(anon, board):
    assert_error(anon.get(f"/api/boards/{board.pk}/columns"), 401)
    assert_error(put(anon, board, [{"name": "A"}]), 401)
