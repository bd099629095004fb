"""Small helpers the ticket API tests share."""

from django.db.models import Max
from rest_framework.test import APIClient

from boards.models import Board, BoardEvent
from history.models import TicketHistory
from tickets.models import Ticket

ERROR_KEYS = {"message", "code", "error_id", "timestamp", "validation_errors"}


def assert_error(response, status: int, *, code: str | None = None, field: str | None = None):
    """The response is an error in the one envelope; returns its `error` object."""
    assert response.status_code == status, response.content
    body = response.json()
    assert list(body) == ["error"], body
    error = body["error"]
    assert set(error) >= ERROR_KEYS, error
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    if field is not None:
        fields = [row["field"] for row in error["validation_errors"]]
        assert any(
            name == field or name.startswith((f"{field}.", f"{field}[")) for name in fields
        ), error
    return error


def create(api: APIClient, board, title: str, **fields) -> dict:
    response = api.post("/api/tickets/", {"board_id": board.pk, "title": title, **fields}, "json")
    assert response.status_code == 201, response.content
    return response.json()


def draw(api: APIClient, board) -> dict[str, list[str]]:
    """The board as titles per column, read back through the API as a client sees it."""
    columns = api.get(f"/api/boards/{board.pk}/columns").json()
    drawing: dict[str, list[str]] = {column["name"]: [] for column in columns}
    response = api.get(f"/api/boards/{board.pk}/tickets")
    assert response.status_code == 200, response.content
    for ticket in response.json():
        drawing[ticket["current_column"]].append(ticket["title"])
    return drawing


def snapshot(board) -> dict[int, tuple]:
    """Every ticket of the board as (column, position, version), read from the database."""
    return {
        pk: (column_id, position, version)
        for pk, column_id, position, version in Ticket.objects.filter(board=board).values_list(
            "pk", "column_id", "position", "version"
        )
    }


def history_of(ticket_id: int) -> list[tuple]:
    return list(
        TicketHistory.objects.filter(ticket_id=ticket_id)
        .order_by("id")
        .values_list("field_name", "old_value", "new_value", "changed_by__username")
    )


def last_history_id() -> int:
    return TicketHistory.objects.aggregate(last=Max("id"))["last"] or 0


def history_since(history_id: int) -> list[tuple]:
    return list(
        TicketHistory.objects.filter(id__gt=history_id)
        .order_by("id")
        .values_list("ticket_id", "field_name", "old_value", "new_value", "changed_by__username")
    )


def event_types(board) -> list[str]:
    return list(
        BoardEvent.objects.filter(board=board).order_by("seq").values_list("type", flat=True)
    )


def assert_seq_gap_free(board) -> None:
    """The board's events are numbered 1..n without gaps, and the board's counter is at n."""
    seqs = list(
        BoardEvent.objects.filter(board=board).order_by("seq").values_list("seq", flat=True)
    )
    assert seqs == list(range(1, len(seqs) + 1))
    assert Board.objects.get(pk=board.pk).last_event_seq == len(seqs)


def set_wip_limits(api: APIClient, board, limits: dict[str, int | None]) -> None:
    """Set WIP limits by column name through PUT /api/boards/{id}/columns."""
    columns = api.get(f"/api/boards/{board.pk}/columns").json()
    specs = [
        {"id": c["id"], "name": c["name"], "wip_limit": limits.get(c["name"], c["wip_limit"])}
        for c in columns
    ]
    response = api.put(f"/api/boards/{board.pk}/columns", {"columns": specs}, "json")
    assert response.status_code == 200, response.content


def statement_count(captured) -> int:
    """The queries a CaptureQueriesContext saw, counting the batches that SQLite splits
    one bulk INSERT into (999 parameters each) as the one statement they are."""
    count, previous = 0, None
    for query in captured.captured_queries:
        sql = query["sql"]
        insert_into = sql.split(" VALUES ")[0] if sql.startswith("INSERT") else None
        if insert_into is None or insert_into != previous:
            count += 1
        previous = insert_into
    return count
