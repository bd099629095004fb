"""The REST hot paths cost a fixed, small number of queries, and answer exactly what a
fresh read (and the board event) says. Counts are for an agent's bearer token; the
test database wraps each write in a savepoint, which counts two more."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents.models import ApiToken
from boards.models import BoardEvent
from tests.factories import make_ticket

SAVEPOINT = 2


class Count(int):
    """A number of queries that shows them when an assertion on it fails."""

    queries: list[str]

    def __str__(self) -> str:
        return f"{int(self)} queries:\n" + "\n".join(self.queries)


def counted(call):
    with CaptureQueriesContext(connection) as captured:
        response = call()
    count = Count(len(captured))
    count.queries = [query["sql"][:150] for query in captured.captured_queries]
    return count, response


def last_event(board, kind: str) -> dict:
    return BoardEvent.objects.filter(board=board, type=kind).order_by("-seq").first().payload


@pytest.fixture
def warm(agent_api, board, user):
    """A ticket with labels and a blocker, after one write by the token: the rate limiter
    has met the token (it remembers whose it is from then on)."""
    blocker = make_ticket(user, board, labels=["infra"])
    ticket = make_ticket(user, board, labels=["api", "perf"])
    response = agent_api.put(
        f"/api/tickets/{ticket.pk}/dependencies", {"blocked_by": [blocker.pk]}, format="json"
    )
    assert response.status_code == 200, response.content
    return ticket


def test_get_ticket_costs_four_queries(agent_api, warm):
    # token with its user, the ticket with the caller's role on its board, its labels,
    # its blockers
    count, response = counted(lambda: agent_api.get(f"/api/tickets/{warm.pk}"))
    assert response.status_code == 200
    assert response.json()["labels"] == ["api", "perf"]
    assert response.json()["is_blocked"] is True
    assert count == 4, "\n".join(count.queries)


def test_create_answers_what_a_read_and_the_event_say(agent_api, board, warm):
    body = {"board_id": board.pk, "title": "Fast", "labels": ["perf", "infra"], "priority": "high"}
    count, response = counted(lambda: agent_api.post("/api/tickets/", body, format="json"))
    assert response.status_code == 201, response.content
    created = response.json()
    # token, role, columns, board and column locks, position, insert, labels (known
    # ones), label links, history, event sequence, event
    assert count == 12 + SAVEPOINT, "\n".join(count.queries)
    assert created == agent_api.get(f"/api/tickets/{created['id']}").json()
    assert created == last_event(board, "ticket_created")
    assert response["ETag"] == f'"{created["version"]}"'
    assert created["labels"] == ["infra", "perf"] and created["is_blocked"] is False


def test_create_with_a_new_label_and_no_labels(agent_api, board, warm):
    for labels in ([], ["brand-new"]):
        response = agent_api.post(
            "/api/tickets/", {"board_id": board.pk, "title": "T", "labels": labels}, format="json"
        )
        assert response.status_code == 201, response.content
        assert response.json() == agent_api.get(f"/api/tickets/{response.json()['id']}").json()
        assert response.json()["labels"] == labels


def test_move_answers_what_a_read_and_the_event_say(agent_api, board, warm):
    move = {"column": "In Progress"}
    count, response = counted(
        lambda: agent_api.post(f"/api/tickets/{warm.pk}/move", move, format="json")
    )
    assert response.status_code == 200, response.content
    moved = response.json()
    # token, ticket lock, ticket with the caller's role, labels, blockers, columns, board
    # and column locks, position, update, history, event sequence, event, finished yet?
    assert count == 14 + SAVEPOINT, "\n".join(count.queries)
    assert moved == agent_api.get(f"/api/tickets/{warm.pk}").json()
    event = last_event(board, "ticket_moved")
    assert event.pop("from_column") == "Backlog"
    assert moved == event
    assert moved["current_column"] == "In Progress" and moved["is_blocked"] is True


def test_move_to_done_announces_the_unblocked(agent_api, board, user, warm):
    blocker_id = agent_api.get(f"/api/tickets/{warm.pk}").json()["blocked_by"][0]
    response = agent_api.post(f"/api/tickets/{blocker_id}/move", {"column": "Done"}, format="json")
    assert response.status_code == 200, response.content
    unblocked = last_event(board, "ticket_unblocked")
    assert unblocked["id"] == warm.pk and unblocked["is_blocked"] is False
    assert response.json() == agent_api.get(f"/api/tickets/{blocker_id}").json()


def test_update_answers_what_a_read_says(agent_api, warm):
    response = agent_api.patch(
        f"/api/tickets/{warm.pk}", {"labels": ["other"], "title": "Renamed"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json() == agent_api.get(f"/api/tickets/{warm.pk}").json()
    assert response.json()["labels"] == ["other"]


def test_comment_costs_five_queries_and_answers_what_a_read_says(agent_api, board, warm):
    body = {"ticket_id": warm.pk, "text": "on it"}
    count, response = counted(lambda: agent_api.post("/api/comments/", body, format="json"))
    assert response.status_code == 201, response.content
    # token, the ticket's board with the role, insert, event sequence, event
    assert count == 5 + SAVEPOINT, "\n".join(count.queries)
    comment = response.json()
    assert comment == agent_api.get(f"/api/comments/{comment['id']}").json()
    assert comment == last_event(board, "comment_added")


def test_a_token_limited_to_other_boards_still_sees_nothing(
    agent_api, agent_with_token, board, user, warm
):
    from tests.factories import make_board

    elsewhere = make_board(user, "Elsewhere")
    token = ApiToken.objects.get(user=agent_with_token[0])
    token.boards.set([elsewhere])
    assert agent_api.get(f"/api/tickets/{warm.pk}").status_code == 404
    response = agent_api.post("/api/comments/", {"ticket_id": warm.pk, "text": "x"}, format="json")
    assert response.status_code == 404


def test_a_listed_page_answers_what_each_read_answers_in_constant_queries(agent_api, board, user):
    blocker = make_ticket(user, board, labels=["infra"])
    for index in range(12):
        ticket = make_ticket(user, board, labels=["b", "a", f"l{index % 3}"][: index % 4])
        if index % 2:
            agent_api.put(
                f"/api/tickets/{ticket.pk}/dependencies",
                {"blocked_by": [blocker.pk]},
                format="json",
            )

    def page(size: int):
        return counted(lambda: agent_api.get(f"/api/tickets/?board_id={board.pk}&page_size={size}"))

    small_count, _ = page(3)
    count, response = page(13)
    rows = response.json()["items"]
    assert len(rows) == 13 and any(row["labels"] for row in rows)
    assert any(row["is_blocked"] for row in rows)
    for row in rows:
        assert row == agent_api.get(f"/api/tickets/{row['id']}").json()
    # token with its user, the board's role, the count, the page, its labels, its blockers
    assert count == small_count == 6, str(count)


def test_claims_answer_what_a_read_and_the_event_say(agent_api, board, user):
    ticket = make_ticket(user, board, labels=["api"], assignee=user.username)
    agent_api.get(f"/api/tickets/{ticket.pk}")  # the rate limiter and token touch meet the token

    def answered(path: str, kind: str, body=None) -> dict:
        count, response = counted(lambda: agent_api.post(path, body or {}, format="json"))
        assert response.status_code == 200, response.content
        # The claim's fencing token is the holder's alone: in the answer, not in reads or events.
        shown = {k: v for k, v in response.json().items() if k != "claim_token"}
        assert shown == agent_api.get(f"/api/tickets/{shown['id']}").json()
        assert shown == last_event(board, kind)
        return count, response.json()

    # The ticket is the user's: an agent takes it only when it asks to.
    count, claimed = answered(
        f"/api/boards/{board.pk}/claim-next", "ticket_claimed", {"include_assigned": True}
    )
    assert claimed["id"] == ticket.pk and claimed["claimed_by"] is not None
    # token, role, columns, the pick, the ticket, its labels, its blockers, the claim,
    # history, event sequence, event: nothing is read again to answer
    assert count == 11 + SAVEPOINT, str(count)
    _, beating = answered(
        f"/api/tickets/{ticket.pk}/heartbeat", "ticket_updated", {"lease_seconds": 1200}
    )
    assert beating["lease_expires_at"] > claimed["lease_expires_at"]
    _, released = answered(f"/api/tickets/{ticket.pk}/release", "ticket_released")
    assert released["claimed_by"] is None
    _, again = answered(f"/api/tickets/{ticket.pk}/claim", "ticket_claimed")
    assert again["version"] == released["version"] + 1
