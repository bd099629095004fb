"""Reading a board costs the same number of queries for 20 tickets as for 2,000."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import make_board
from tickets import rules
from tickets.services import ticket_create, tickets_bulk_create

COLUMNS = ["Backlog", "In Progress", "Testing", "Done"]


def spec(index: int, actor) -> dict:
    """Tickets spread over the columns, some with labels and an assignee, so that every
    related read is exercised."""
    return {
        "title": f"T{index}",
        "column": COLUMNS[index % len(COLUMNS)],
        "labels": ["common", f"label{index % 3}"] if index % 5 == 0 else [],
        "assignee": actor.username if index % 2 else None,
    }


def fill(board, actor, count: int) -> None:
    """`count` tickets through the batch service, `rules.BULK_MAX` at a time."""
    for start in range(0, count, rules.BULK_MAX):
        batch = [spec(index, actor) for index in range(start, min(count, start + rules.BULK_MAX))]
        tickets_bulk_create(actor=actor, board_id=board.pk, tickets=batch)


def queries(api, url: str) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url)
    assert response.status_code == 200, response.content
    return len(captured), response.json()


def test_board_reads_cost_the_same_for_20_and_2000_tickets(api, user):
    small, large = make_board(user, "Small"), make_board(user, "Large")
    fill(small, user, 20)
    fill(large, user, 2000)

    small_count, small_body = queries(api, f"/api/boards/{small.pk}/tickets")
    large_count, large_body = queries(api, f"/api/boards/{large.pk}/tickets")
    assert (len(small_body), len(large_body)) == (20, 2000)
    by_title = {ticket["title"]: ticket for ticket in large_body}
    assert by_title["T1990"]["labels"] == ["common", "label1"]
    assert by_title["T1999"]["assignee"] == "alice"
    assert small_count == large_count

    small_count, small_page = queries(api, f"/api/tickets/?board_id={small.pk}")
    large_count, large_page = queries(api, f"/api/tickets/?board_id={large.pk}&page_size=500")
    assert (small_page["total"], large_page["total"]) == (20, 2000)
    assert len(large_page["items"]) == 500
    assert small_count == large_count

    filtered_count, filtered = queries(api, f"/api/tickets/?board_id={large.pk}&label=label2")
    assert filtered["total"] == 133  # every fifth ticket, a third of those
    assert filtered_count == small_count


def test_one_ticket_costs_a_constant_number_of_queries(api, user, board, django_assert_num_queries):
    for index in range(3):
        ticket_create(actor=user, board_id=board.pk, **spec(index, user))
    ticket_id = api.get(f"/api/tickets/?board_id={board.pk}").json()["items"][0]["id"]
    with CaptureQueriesContext(connection) as captured:
        api.get(f"/api/tickets/{ticket_id}")
    fill(board, user, 30)
    with django_assert_num_queries(len(captured)):
        api.get(f"/api/tickets/{ticket_id}")
