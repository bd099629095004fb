"""History: /api/history/tickets/{id}/history and /transitions, board activity, stats."""

import time
from datetime import datetime
from itertools import pairwise

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from history.models import TicketHistory
from tests.api.envelope import assert_error
from tests.factories import make_board, make_ticket
from tickets.services import ticket_delete, ticket_move, ticket_update

pytestmark = pytest.mark.django_db


def parse(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    assert moment.utcoffset() is not None, value  # rule 6: an offset on every time
    return moment


# ---------------------------------------------------------------- ticket history


def test_ticket_history_oldest_first(api, board, user, agent_with_token):
    agent, _ = agent_with_token
    ticket = make_ticket(user, board, "Write docs")
    ticket_update(actor=agent, ticket_id=ticket.pk, priority="high")
    ticket_move(actor=user, ticket_id=ticket.pk, column="Testing")

    body = api.get(f"/api/history/tickets/{ticket.pk}/history").json()

    rows = body["items"]
    assert body["total"] == len(rows) == TicketHistory.objects.filter(ticket_id=ticket.pk).count()
    assert rows[0]["field_name"] == "created" and rows[0]["new_value"] == "Write docs"
    assert [row["changed_at"] for row in rows] == sorted(row["changed_at"] for row in rows)
    priority = next(row for row in rows if row["old_value"] == "medium")
    assert (priority["new_value"], priority["changed_by"]) == ("high", "claude-1")
    move = rows[-2] if rows[-1]["field_name"] == "position" else rows[-1]
    assert (move["field_name"], move["old_value"], move["new_value"]) == (
        "current_column",
        "Backlog",
        "Testing",
    )
    assert all(row["ticket_id"] == ticket.pk and row["board_id"] == board.pk for row in rows)
    parse(rows[0]["changed_at"])


def test_ticket_history_outlives_the_ticket(api, board, user):
    ticket = make_ticket(user, board, "Short-lived")
    ticket_delete(actor=user, ticket_id=ticket.pk)

    response = api.get(f"/api/history/tickets/{ticket.pk}/history")

    assert response.status_code == 200, response.content
    rows = response.json()["items"]
    assert rows[0]["field_name"] == "created"
    assert (rows[-1]["field_name"], rows[-1]["old_value"], rows[-1]["new_value"]) == (
        "deleted",
        "Short-lived",
        None,
    )


@pytest.mark.parametrize("ticket_id", ["9999", "99999999999999999999999"])
def test_ticket_history_of_a_ticket_that_never_existed_is_404(api, ticket_id):
    assert_error(api.get(f"/api/history/tickets/{ticket_id}/history"), 404, "not_found")
    assert_error(api.get(f"/api/history/tickets/{ticket_id}/transitions"), 404, "not_found")


def test_ticket_history_pages(api, board, user):
    ticket = make_ticket(user, board)
    for priority in ["high", "low", "critical", "medium"]:
        ticket_update(actor=user, ticket_id=ticket.pk, priority=priority)
    body = api.get(f"/api/history/tickets/{ticket.pk}/history?page_size=2&page=2").json()
    assert len(body["items"]) == 2 and body["has_previous"] and body["page"] == 2


def test_history_needs_login(anon, board, user):
    ticket = make_ticket(user, board)
    for path in [
        f"/api/history/tickets/{ticket.pk}/history",
        f"/api/history/tickets/{ticket.pk}/transitions",
        f"/api/history/boards/{board.pk}/activity",
        "/api/history/stats",
    ]:
        assert_error(anon.get(path), 401)


# ---------------------------------------------------------------- transitions


def test_transitions_of_a_deleted_ticket_add_up(api, board, user, agent_api):
    ticket = make_ticket(user, board)
    time.sleep(0.02)
    assert (
        agent_api.post(
            f"/api/tickets/{ticket.pk}/move", {"column": "In Progress"}, format="json"
        ).status_code
        == 200
    )
    time.sleep(0.02)
    ticket_move(actor=user, ticket_id=ticket.pk, column="Backlog")
    time.sleep(0.02)
    ticket_move(actor=user, ticket_id=ticket.pk, column="Done")
    time.sleep(0.02)
    ticket_delete(actor=user, ticket_id=ticket.pk)

    body = api.get(f"/api/history/tickets/{ticket.pk}/transitions").json()

    stays = body["transitions"]
    assert body["ticket_id"] == ticket.pk
    assert [(s["from_column"], s["column"], s["moved_by"]) for s in stays] == [
        (None, "Backlog", "alice"),
        ("Backlog", "In Progress", "claude-1"),
        ("In Progress", "Backlog", "alice"),
        ("Backlog", "Done", "alice"),
    ]
    for stay, following in pairwise(stays):
        assert stay["left_at"] == following["entered_at"]
        assert stay["duration_seconds"] >= 0.02
    history = TicketHistory.objects.filter(ticket_id=ticket.pk)
    created = history.get(field_name="created").changed_at
    deleted = history.get(field_name="deleted").changed_at
    assert parse(stays[-1]["left_at"]) == deleted
    total = sum(stay["duration_seconds"] for stay in stays)
    assert total == pytest.approx((deleted - created).total_seconds(), abs=1e-3)
    in_columns = {row["column"]: row["seconds"] for row in body["time_in_columns"]}
    assert set(in_columns) == {"Backlog", "In Progress", "Done"}
    assert in_columns["Backlog"] == pytest.approx(
        stays[0]["duration_seconds"] + stays[2]["duration_seconds"]
    )
    assert sum(in_columns.values()) == pytest.approx(total)


def test_transitions_of_a_live_ticket_run_until_now(api, board, user):
    ticket = make_ticket(user, board)
    ticket_move(actor=user, ticket_id=ticket.pk, column="Testing")
    ticket_move(actor=user, ticket_id=ticket.pk, column="Testing", position="top")  # no transition
    before = timezone.now()

    stays = api.get(f"/api/history/tickets/{ticket.pk}/transitions").json()["transitions"]

    assert [stay["column"] for stay in stays] == ["Backlog", "Testing"]
    assert stays[-1]["left_at"] is None
    created = parse(stays[0]["entered_at"])
    total = sum(stay["duration_seconds"] for stay in stays)
    assert (before - created).total_seconds() <= total <= (timezone.now() - created).total_seconds()


# ---------------------------------------------------------------- board activity


def test_board_activity_newest_first(api, board, user, agent_with_token):
    agent, _ = agent_with_token
    first = make_ticket(user, board, "One")
    second = make_ticket(user, board, "Two")
    ticket_update(actor=agent, ticket_id=first.pk, title="One (edited)")
    make_ticket(user, make_board(user, "Elsewhere"), "Other board")

    body = api.get(f"/api/history/boards/{board.pk}/activity").json()
    rows = body["items"]

    assert rows[0]["field_name"] == "title" and rows[0]["changed_by"] == "claude-1"
    assert rows[0]["ticket_id"] == first.pk
    keys = [(row["changed_at"], row["id"]) for row in rows]
    assert keys == sorted(keys, reverse=True)
    assert {row["ticket_id"] for row in rows} == {first.pk, second.pk}
    assert body["total"] == TicketHistory.objects.filter(board=board).count()


def test_board_activity_costs_the_same_for_few_and_many(api, board, user):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get(f"/api/history/boards/{board.pk}/activity").status_code == 200
        return len(captured)

    make_ticket(user, board)
    few = queries()
    for _ in range(10):
        make_ticket(user, board)
    assert few == queries()


def test_board_activity_of_unknown_board_is_404(api):
    assert_error(api.get("/api/history/boards/9999/activity"), 404, "not_found")


# ---------------------------------------------------------------- stats


def test_stats_totals_by_field_and_by_actor(api, board, user, agent_with_token):
    agent, _ = agent_with_token
    first = make_ticket(user, board)
    second = make_ticket(user, board)
    ticket_move(actor=agent, ticket_id=first.pk, column="In Progress")
    ticket_move(actor=agent, ticket_id=first.pk, column="Testing")
    ticket_update(actor=agent, ticket_id=second.pk, priority="low")

    stats = api.get("/api/history/stats").json()

    total = TicketHistory.objects.count()
    assert stats["total_changes"] == total == stats["last_24h"] == stats["last_7d"]
    assert stats["tickets_tracked"] == 2
    assert stats["moves"] == 2
    assert stats["by_field"]["created"] == 2
    assert stats["by_field"]["current_column"] == 4  # placed twice, moved twice
    assert (
        stats["by_field"]["priority"] == TicketHistory.objects.filter(field_name="priority").count()
    )
    assert sum(stats["by_field"].values()) == total
    by_actor = {row["username"]: row for row in stats["by_actor"]}
    assert by_actor["alice"]["kind"] == "human"
    assert by_actor["claude-1"]["kind"] == "agent"
    assert by_actor["claude-1"]["count"] == TicketHistory.objects.filter(changed_by=agent).count()
    assert sum(row["count"] for row in stats["by_actor"]) == total
    counts = [row["count"] for row in stats["by_actor"]]
    assert counts == sorted(counts, reverse=True)


def test_stats_of_an_empty_system(api):
    stats = api.get("/api/history/stats").json()
    assert stats["total_changes"] == 0 and stats["by_field"] == {} and stats["by_actor"] == []


def test_stats_query_count_does_not_grow(api, board, user, django_assert_max_num_queries):
    for _ in range(10):
        make_ticket(user, board)
    with django_assert_max_num_queries(5):  # session, user, three aggregates
        assert api.get("/api/history/stats").status_code == 200
