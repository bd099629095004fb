"""POST /api/bulk/tickets/{move,priority,assign}: all or nothing, reported per ticket,
history for each ticket, and a number of queries that does not grow with the tickets."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from boards.models import BoardEvent
from core.errors import Conflict, InvalidInput, NotFound
from history.models import TicketHistory
from tests.factories import make_board, make_ticket
from tests.tickets.helpers import (
    assert_error,
    assert_seq_gap_free,
    draw,
    history_since,
    last_history_id,
    set_wip_limits,
    snapshot,
    statement_count,
)
from tickets import rules
from tickets.models import Priority, Ticket
from tickets.services import tickets_bulk_create

MOVE, PRIORITY, ASSIGN = (f"/api/bulk/tickets/{name}" for name in ("move", "priority", "assign"))


@pytest.fixture
def three(user, board) -> list[int]:
    return [make_ticket(user, board, title).pk for title in ("A", "B", "C")]


def post(api, url: str, **body):
    return api.post(url, body, "json")


def test_bulk_move_reports_each_ticket_and_keeps_the_given_order(api, board, three, user):
    make_ticket(user, board, "Z", column="Done")
    a, _, c = three
    response = post(api, MOVE, ticket_ids=[c, a], column="done")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "operation": "move",
        "changed": 2,
        "results": [
            {"ticket_id": c, "status": "changed", "version": 2},
            {"ticket_id": a, "status": "changed", "version": 2},
        ],
    }
    assert draw(api, board) == {
        "Backlog": ["B"],
        "In Progress": [],
        "Testing": [],
        "Done": ["Z", "C", "A"],
    }


def test_bulk_move_leaves_tickets_already_there_unchanged(api, board, three):
    a, b, c = three
    post(api, MOVE, ticket_ids=[a], column="Done")
    before = snapshot(board)
    report = post(api, MOVE, ticket_ids=[a, b], column="Done").json()
    assert report["changed"] == 1
    assert [row["status"] for row in report["results"]] == ["unchanged", "changed"]
    assert snapshot(board)[a] == before[a]
    assert snapshot(board)[c] == before[c]


def test_bulk_move_across_boards(api, user, board, three):
    other = make_board(user, "Other")
    elsewhere = make_ticket(user, other, "Elsewhere").pk
    response = post(api, MOVE, ticket_ids=[three[0], elsewhere], column="Testing")
    assert response.json()["changed"] == 2
    assert draw(api, board)["Testing"] == ["A"]
    assert draw(api, other)["Testing"] == ["Elsewhere"]
    for each_board, moved in ((board, three[0]), (other, elsewhere)):
        events = BoardEvent.objects.filter(board=each_board, type="ticket_moved")
        assert [event.payload["id"] for event in events] == [moved]


def test_bulk_move_to_a_column_one_board_lacks_changes_nothing(api, user, board, three):
    other = make_board(user, "Other", columns=["Todo", "Done"])
    elsewhere = make_ticket(user, other, "Elsewhere").pk
    before = snapshot(board)
    response = post(api, MOVE, ticket_ids=[three[0], elsewhere], column="Testing")
    assert_error(response, 400, code="unknown_column")
    assert snapshot(board) == before
    assert Ticket.objects.get(pk=elsewhere).column.name == "Todo"


def test_bulk_priority(api, board, three):
    a, b, c = three
    post(api, PRIORITY, ticket_ids=[b], priority="high")
    report = post(api, PRIORITY, ticket_ids=[a, b, c], priority="high").json()
    assert report["operation"] == "priority"
    assert report["changed"] == 2
    assert [row["status"] for row in report["results"]] == ["changed", "unchanged", "changed"]
    assert set(Ticket.objects.values_list("priority", flat=True)) == {Priority.HIGH}


def test_bulk_assign_and_unassign(api, board, three, other_user):
    report = post(api, ASSIGN, ticket_ids=three, assignee="bob").json()
    assert report["operation"] == "assign" and report["changed"] == 3
    assert all(row["version"] == 2 for row in report["results"])
    assert set(Ticket.objects.values_list("assignee__username", flat=True)) == {"bob"}
    report = post(api, ASSIGN, ticket_ids=three[:1], assignee=None).json()
    assert report["changed"] == 1
    assert Ticket.objects.get(pk=three[0]).assignee is None


def test_duplicate_ids_count_once(api, board, three):
    report = post(api, PRIORITY, ticket_ids=[three[0], three[0]], priority="low").json()
    assert report["results"] == [{"ticket_id": three[0], "status": "changed", "version": 2}]


@pytest.mark.parametrize(
    "url, extra",
    [(MOVE, {"column": "Done"}), (PRIORITY, {"priority": "low"}), (ASSIGN, {"assignee": "alice"})],
)
def test_one_unknown_id_changes_nothing(api, board, three, url, extra):
    before = snapshot(board)
    history, events = TicketHistory.objects.count(), BoardEvent.objects.count()
    response = post(api, url, ticket_ids=[three[0], 999_999, three[1]], **extra)
    error = assert_error(response, 404, code="not_found", field="ticket_ids")
    assert "999999" in error["message"]
    assert [row["status"] for row in error["results"]] == ["ok", "not_found", "ok"]
    assert snapshot(board) == before
    assert TicketHistory.objects.count() == history
    assert BoardEvent.objects.count() == events


@pytest.mark.parametrize(
    "url, extra",
    [(MOVE, {"column": "Done"}), (PRIORITY, {"priority": "low"}), (ASSIGN, {"assignee": "alice"})],
)
@pytest.mark.parametrize(
    "ticket_ids",
    [
        [],
        None,
        "1,2",
        [1, "x"],
        [0],
        [-1],
        [1.5],
        [99999999999999999999999],
        list(range(1, rules.BULK_MAX + 2)),
    ],
)
def test_bad_ticket_ids_are_400(api, board, three, url, extra, ticket_ids):
    assert_error(post(api, url, ticket_ids=ticket_ids, **extra), 400, field="ticket_ids")


@pytest.mark.parametrize(
    "url, body, field",
    [
        (MOVE, {}, "column"),
        (MOVE, {"column": 5}, "column"),
        (PRIORITY, {}, "priority"),
        (PRIORITY, {"priority": "asap"}, "priority"),
        (ASSIGN, {}, "assignee"),
        (ASSIGN, {"assignee": 5}, "assignee"),
        (ASSIGN, {"assignee": "nobody"}, "assignee"),
    ],
)
def test_bad_operation_fields_are_400(api, board, three, url, body, field):
    before = snapshot(board)
    assert_error(post(api, url, ticket_ids=three, **body), 400, field=field)
    assert snapshot(board) == before


def test_unknown_column_is_400(api, board, three):
    assert_error(post(api, MOVE, ticket_ids=three, column="Nope"), 400, code="unknown_column")


def test_bulk_over_the_wip_limit_is_refused_whole(api, board, three, user):
    set_wip_limits(api, board, {"Done": 3})
    make_ticket(user, board, "Z", column="Done")
    before = snapshot(board)
    history = TicketHistory.objects.count()
    error = assert_error(post(api, MOVE, ticket_ids=three, column="Done"), 409, code="wip_limit")
    assert error["wip_limit"] == 3
    assert snapshot(board) == before
    assert TicketHistory.objects.count() == history
    # Two fit exactly.
    assert post(api, MOVE, ticket_ids=three[:2], column="Done").status_code == 200


def test_non_json_bodies_are_400(api, board):
    for url in (MOVE, PRIORITY, ASSIGN):
        assert_error(api.post(url, "{x", content_type="application/json"), 400)
        assert_error(api.post(url, "[1, 2]", content_type="application/json"), 400)


def test_anonymous_cannot_bulk(anon, board, three):
    for url in (MOVE, PRIORITY, ASSIGN):
        response = post(anon, url, ticket_ids=three, priority="low", column="Done", assignee=None)
        assert response.status_code in (401, 403)
        assert_error(response, response.status_code, code="not_authenticated")


def test_the_maximum_batch_succeeds(api, user, board):
    batch = [{"title": f"T{index}"} for index in range(rules.BULK_MAX)]
    ids = [
        ticket.pk for ticket in tickets_bulk_create(actor=user, board_id=board.pk, tickets=batch)
    ]
    report = post(api, MOVE, ticket_ids=ids, column="Done").json()
    assert report["changed"] == rules.BULK_MAX
    assert draw(api, board)["Done"] == [f"T{index}" for index in range(rules.BULK_MAX)]
    assert TicketHistory.objects.filter(field_name="current_column", new_value="Done").count() == (
        rules.BULK_MAX
    )


def count_queries(api, url: str, body: dict) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = post(api, url, **body)
    assert response.status_code == 200, response.content
    return statement_count(queries)


@pytest.mark.parametrize(
    "url, extra",
    [(MOVE, {"column": "Done"}), (PRIORITY, {"priority": "low"}), (ASSIGN, {"assignee": "bob"})],
)
def test_queries_do_not_grow_with_the_tickets(api, user, other_user, url, extra):
    counts = []
    for size in (5, 50):
        board = make_board(user, f"Board of {size}")
        ids = [make_ticket(user, board, labels=["x"]).pk for _ in range(size)]
        counts.append(count_queries(api, url, {"ticket_ids": ids, **extra}))
    assert counts[0] == counts[1], counts


# ------------------------------------------------------------ tickets_bulk_create (service)


def test_bulk_create_places_each_ticket_at_the_bottom_in_order(api, user, other_user, board):
    make_ticket(user, board, "Existing")
    created = tickets_bulk_create(
        actor=other_user,
        board_id=board.pk,
        tickets=[
            {"title": "One"},
            {"title": "Two", "column": "done", "labels": ["b", "a"], "assignee": "alice"},
            {"title": "Three", "priority": "critical", "description": "Words"},
            {"title": "Four", "column": "Done", "assignee": None},
        ],
    )
    assert [ticket.title for ticket in created] == ["One", "Two", "Three", "Four"]
    assert draw(api, board) == {
        "Backlog": ["Existing", "One", "Three"],
        "In Progress": [],
        "Testing": [],
        "Done": ["Two", "Four"],
    }
    two = api.get(f"/api/tickets/{created[1].pk}").json()
    assert (two["labels"], two["assignee"], two["created_by"], two["version"]) == (
        ["a", "b"],
        "alice",
        "bob",
        1,
    )
    assert api.get(f"/api/tickets/{created[2].pk}").json()["priority"] == "critical"


def test_bulk_create_writes_history_and_one_event_per_ticket(user, other_user, board):
    start = last_history_id()
    created = tickets_bulk_create(
        actor=other_user,
        board_id=board.pk,
        tickets=[{"title": "One"}, {"title": "Two", "labels": ["x"], "column": "Testing"}],
    )
    rows = history_since(start)
    assert (created[0].pk, "created", None, "One", "bob") in rows
    assert (created[1].pk, "labels", None, "x", "bob") in rows
    assert (created[1].pk, "current_column", None, "Testing", "bob") in rows
    assert {row[0] for row in rows} == {ticket.pk for ticket in created}
    events = list(BoardEvent.objects.filter(board=board).order_by("-seq")[:2])[::-1]
    assert [event.type for event in events] == ["ticket_created", "ticket_created"]
    assert [event.payload["title"] for event in events] == ["One", "Two"]
    assert {event.actor for event in events} == {other_user}
    assert_seq_gap_free(board)


@pytest.mark.parametrize(
    "tickets, field, code",
    [
        ([], "tickets", "invalid"),
        ("x", "tickets", "invalid"),
        ([{"title": "A"}, "B"], "tickets[1]", "invalid"),
        ([{"title": "A"}, {"title": "B", "position": "top"}], "tickets[1]", "invalid"),
        ([{"title": "A"}, {"title": ""}], "tickets[1].title", "invalid"),
        ([{"title": "A"}, {"title": "B", "labels": "x"}], "tickets[1].labels", "invalid"),
        ([{"title": "A"}, {"title": "B", "priority": "soon"}], "tickets[1].priority", "invalid"),
        ([{"title": "A"}, {"title": "B", "assignee": 3}], "tickets[1].assignee", "invalid"),
        ([{"title": "A", "assignee": "nobody"}], "assignee", "invalid"),
        ([{"title": "A", "column": "Nowhere"}], "column", "unknown_column"),
        ([{"title": str(n)} for n in range(rules.BULK_MAX + 1)], "tickets", "invalid"),
    ],
)
def test_bulk_create_refuses_a_bad_batch_whole(user, board, tickets, field, code):
    with pytest.raises(InvalidInput) as raised:
        tickets_bulk_create(actor=user, board_id=board.pk, tickets=tickets)
    assert raised.value.code == code
    assert field in [row["field"] for row in raised.value.validation_errors]
    assert Ticket.objects.count() == 0
    assert TicketHistory.objects.count() == 0


def test_bulk_create_on_an_unknown_board(user, board):
    with pytest.raises(NotFound):
        tickets_bulk_create(actor=user, board_id=999_999, tickets=[{"title": "A"}])


def test_bulk_create_over_the_wip_limit_creates_nothing(api, user, board):
    set_wip_limits(api, board, {"Testing": 2})
    with pytest.raises(Conflict) as raised:
        tickets_bulk_create(
            actor=user,
            board_id=board.pk,
            tickets=[{"title": t, "column": "Testing"} for t in "ABC"],
        )
    assert raised.value.code == "wip_limit"
    assert Ticket.objects.count() == 0
    batch = [{"title": t, "column": "Testing"} for t in "AB"]
    assert len(tickets_bulk_create(actor=user, board_id=board.pk, tickets=batch)) == 2


def test_bulk_create_queries_do_not_grow_with_the_tickets(user, other_user):
    counts = []
    for size in (5, 50):
        board = make_board(user, f"Board of {size}")
        batch = [
            {"title": f"T{n}", "column": ["Backlog", "Done"][n % 2], "labels": ["x", f"l{n}"]}
            for n in range(size)
        ]
        batch[0]["assignee"] = "bob"
        with CaptureQueriesContext(connection) as queries:
            tickets_bulk_create(actor=user, board_id=board.pk, tickets=batch)
        counts.append(statement_count(queries))
    assert counts[0] == counts[1], counts


@pytest.mark.parametrize("url", [MOVE, PRIORITY, ASSIGN])
def test_bulk_refuses_unknown_fields(api, board, three, url):
    operation = {
        MOVE: {"column": "Done"},
        PRIORITY: {"priority": "low"},
        ASSIGN: {"assignee": None},
    }
    response = post(api, url, ticket_ids=three, ids=three, **operation[url])
    error = assert_error(response, 400, field="ids")
    assert [row["field"] for row in error["validation_errors"]] == ["ids"]
    assert set(Ticket.objects.values_list("version", flat=True)) == {1}
