"""POST /api/boards/{id}/claim-next: the best ready ticket, claimed atomically."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.claims.helpers import assert_error, events_after, expire_lease, history_of, last_seq
from tests.factories import add_member, make_board, make_ticket
from tickets.services import (
    NothingToClaim,
    ticket_claim,
    ticket_claim_next,
    ticket_move,
    ticket_set_dependencies,
)

pytestmark = pytest.mark.django_db


def claim_next(client, board, **filters):
    return client.post(f"/api/boards/{board.pk}/claim-next", filters, "json")


def next_title(client, board, **filters) -> str:
    response = claim_next(client, board, **filters)
    assert response.status_code == 200, response.content
    return response.json()["title"]


@pytest.fixture
def queue(user, board):
    """Backlog (top to bottom): low, high-old, medium, high-new placed on top,
    critical-late at the bottom; In Progress: critical-elsewhere."""
    tickets = {}
    for title, extra in [
        ("low", {"priority": "low"}),
        ("high-old", {"priority": "high"}),
        ("medium", {}),
        ("high-new", {"priority": "high", "position": "top"}),
        ("critical-late", {"priority": "critical"}),
        ("critical-elsewhere", {"priority": "critical", "column": "In Progress"}),
    ]:
        tickets[title] = make_ticket(user, board, title, **extra)
    return tickets


def test_picks_by_priority_then_position(agent_api, board, queue):
    taken = [next_title(agent_api, board) for _ in range(5)]
    assert taken == ["critical-late", "high-new", "high-old", "medium", "low"]
    assert_error(claim_next(agent_api, board), 404, "nothing_to_claim")


def test_same_priority_goes_oldest_first_when_appended(agent_api, user, board):
    for title in ["first", "second", "third"]:
        make_ticket(user, board, title)
    assert [next_title(agent_api, board) for _ in range(3)] == ["first", "second", "third"]


def test_claim_next_claims_with_history_and_event(agent_api, board, queue):
    seq = last_seq(board)
    response = claim_next(agent_api, board, lease_seconds=120)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["claimed_by"] == "claude-1"
    assert body["lease_expires_at"] is not None
    assert ("claimed_by", None, "claude-1", "claude-1") in history_of(body["id"])
    assert events_after(board, seq) == [("ticket_claimed", body["id"])]


def test_skips_live_claims_and_takes_expired_ones(agent_api, second_agent, board, queue):
    ticket_claim(actor=second_agent, ticket_id=queue["critical-late"].pk)
    assert next_title(agent_api, board) == "high-new"
    expire_lease(queue["critical-late"].pk)
    assert next_title(agent_api, board) == "critical-late"
    assert history_of(queue["critical-late"].pk, "lease_expired", "claimed_by")[-2:] == [
        ("lease_expired", "codex-2", None, "claude-1"),
        ("claimed_by", "codex-2", "claude-1", "claude-1"),
    ]


def test_the_caller_own_live_claim_is_not_handed_out_again(agent_api, board, queue):
    first = claim_next(agent_api, board).json()
    second = claim_next(agent_api, board).json()
    assert first["id"] != second["id"]


def test_skips_blocked_tickets_until_the_blocker_is_done(agent_api, user, board, queue):
    blocker = queue["critical-elsewhere"]
    ticket_set_dependencies(
        actor=user, ticket_id=queue["critical-late"].pk, blocked_by=[blocker.pk]
    )
    assert next_title(agent_api, board) == "high-new"
    ticket_move(actor=user, ticket_id=blocker.pk, column="Testing")
    assert next_title(agent_api, board) == "high-old"
    ticket_move(actor=user, ticket_id=blocker.pk, column="Done")
    assert next_title(agent_api, board) == "critical-late"


def test_a_ticket_blocked_twice_waits_for_both(agent_api, user, board, queue):
    blockers = [queue["low"].pk, queue["critical-elsewhere"].pk]
    ticket_set_dependencies(actor=user, ticket_id=queue["critical-late"].pk, blocked_by=blockers)
    ticket_move(actor=user, ticket_id=queue["critical-elsewhere"].pk, column="Done")
    assert next_title(agent_api, board) == "high-new"
    ticket_move(actor=user, ticket_id=queue["low"].pk, column="Done")
    assert next_title(agent_api, board) == "critical-late"


def test_column_filter(agent_api, board, queue):
    assert next_title(agent_api, board, column="In Progress") == "critical-elsewhere"
    assert_error(claim_next(agent_api, board, column="in progress"), 404, "nothing_to_claim")
    assert_error(claim_next(agent_api, board, column="Done"), 404, "nothing_to_claim")


def test_unknown_column_is_400_naming_the_valid_ones(agent_api, board, queue):
    error = assert_error(claim_next(agent_api, board, column="Doing"), 400, "unknown_column")
    for name in ["Backlog", "In Progress", "Testing", "Done"]:
        assert name in error["message"]


def test_labels_must_all_match(agent_api, user, board):
    make_ticket(user, board, "api only", labels=["api"], priority="critical")
    make_ticket(user, board, "api and bug", labels=["bug", "api"])
    make_ticket(user, board, "bug only", labels=["bug"], priority="critical")
    assert next_title(agent_api, board, labels=["api", "bug"]) == "api and bug"
    assert_error(claim_next(agent_api, board, labels=["api", "bug"]), 404, "nothing_to_claim")
    assert next_title(agent_api, board, labels=["bug"]) == "bug only"
    assert_error(claim_next(agent_api, board, labels=["nope"]), 404, "nothing_to_claim")
    assert next_title(agent_api, board, labels=[]) == "api only"


def test_assignee_filter(agent_api, user, other_user, board):
    make_ticket(user, board, "alice's", assignee="alice", priority="critical")
    make_ticket(user, board, "bob's", assignee="bob")
    make_ticket(user, board, "nobody's", priority="critical")
    assert next_title(agent_api, board, assignee="bob") == "bob's"
    assert_error(claim_next(agent_api, board, assignee="bob"), 404, "nothing_to_claim")
    assert_error(claim_next(agent_api, board, assignee="nobody"), 404, "nothing_to_claim")


def test_empty_board_and_unknown_board(agent_api, board):
    error = assert_error(claim_next(agent_api, board), 404, "nothing_to_claim")
    assert "Backlog" in error["message"]
    assert_error(agent_api.post("/api/boards/999999/claim-next", {}, "json"), 404, "not_found")
    assert_error(agent_api.post(f"/api/boards/{10**20}/claim-next", {}, "json"), 404)


@pytest.mark.parametrize(
    "payload",
    [
        {"lease_seconds": 1},
        {"lease_seconds": "x"},
        {"labels": "api"},
        {"labels": [["api"]]},
        {"column": ""},
        {"colum": "Backlog"},
    ],
)
def test_bad_input_is_400_and_claims_nothing(agent_api, board, queue, payload):
    assert_error(claim_next(agent_api, board, **payload), 400)
    assert next_title(agent_api, board) == "critical-late"


def test_the_service_raises_nothing_to_claim(agent, board):
    with pytest.raises(NothingToClaim):
        ticket_claim_next(actor=agent, board_id=board.pk)


# ---------------------------------------------------------------- query counts


def fill(user, board, count: int) -> None:
    for index in range(count):
        make_ticket(
            user,
            board,
            f"Task {index}",
            labels=["queue"] if index % 2 else [],
            assignee="alice" if index % 3 else None,
        )


FILTERS = [{}, {"labels": ["queue"], "column": "Backlog"}, {"assignee": "alice"}]


def test_claim_next_costs_the_same_queries_for_50_or_500_tickets(user, agent, agent_api):
    agent_api.get("/api/boards/")  # the token's first use records itself: not measured
    counts = {}
    for size in (50, 500):
        board = make_board(user, f"Board of {size}")
        add_member(board, agent, "agent")
        fill(user, board, size)
        for index, filters in enumerate(FILTERS):
            with CaptureQueriesContext(connection) as service_queries:
                ticket_claim_next(actor=agent, board_id=board.pk, **filters)
            with CaptureQueriesContext(connection) as api_queries:
                response = agent_api.post(f"/api/boards/{board.pk}/claim-next", filters, "json")
            assert response.status_code == 200, response.content
            counts[size, index] = (len(service_queries), len(api_queries))
    for index in range(len(FILTERS)):
        assert counts[50, index] == counts[500, index], counts
        assert counts[50, index][0] <= 16, counts
