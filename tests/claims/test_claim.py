"""POST /api/tickets/{id}/claim, /heartbeat and /release."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from tests.claims.helpers import (
    assert_error,
    events_after,
    expire_lease,
    history_of,
    last_seq,
    row,
)
from tests.factories import make_ticket
from tickets.services import ticket_move, ticket_set_dependencies

pytestmark = pytest.mark.django_db


def lease_end(body: dict) -> datetime:
    return datetime.fromisoformat(body["lease_expires_at"])


def row_iso(body: dict) -> str:
    return lease_end(body).isoformat()


def seconds_left(body: dict) -> float:
    return (lease_end(body) - timezone.now()).total_seconds()


@pytest.fixture
def ticket(user, board):
    return make_ticket(user, board, "Write the parser")


# ---------------------------------------------------------------- claim


def test_claim_sets_holder_and_lease_with_history_and_event(agent_api, ticket, board, settings):
    seq = last_seq(board)
    response = agent_api.post(f"/api/tickets/{ticket.pk}/claim", {}, "json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["claimed_by"] == "claude-1"
    assert abs(seconds_left(body) - settings.CLAIM_LEASE_SECONDS) < 5
    assert body["version"] == ticket.version + 1
    assert row(ticket.pk).claimed_by.username == "claude-1"
    claims = history_of(ticket.pk, "claimed_by", "lease_expires_at")
    assert claims[0] == ("claimed_by", None, "claude-1", "claude-1")
    assert claims[1][:2] == ("lease_expires_at", None)
    assert events_after(board, seq) == [("ticket_claimed", ticket.pk)]


def test_claim_with_a_lease_of_its_own(agent_api, ticket):
    body = agent_api.post(f"/api/tickets/{ticket.pk}/claim", {"lease_seconds": 60}, "json").json()
    assert 55 < seconds_left(body) <= 60


def test_second_agent_gets_409_naming_the_holder(agent_api, second_agent_api, ticket):
    agent_api.post(f"/api/tickets/{ticket.pk}/claim", {}, "json")
    before = row(ticket.pk)
    error = assert_error(
        second_agent_api.post(f"/api/tickets/{ticket.pk}/claim", {}, "json"), 409, "claimed"
    )
    assert "claude-1" in error["message"]
    assert error["claimed_by"] == "claude-1"
    after = row(ticket.pk)
    assert (after.claimed_by_id, after.lease_expires_at, after.version) == (
        before.claimed_by_id,
        before.lease_expires_at,
        before.version,
    )


def test_holder_claiming_again_renews_the_lease(agent_api, ticket, board):
    first = agent_api.post(f"/api/tickets/{ticket.pk}/claim", {"lease_seconds": 60}, "json")
    seq = last_seq(board)
    again = agent_api.post(f"/api/tickets/{ticket.pk}/claim", {"lease_seconds": 3600}, "json")
    assert again.status_code == 200, again.content
    assert again.json()["claimed_by"] == "claude-1"
    assert lease_end(again.json()) > lease_end(first.json()) + timedelta(minutes=50)
    renewal = history_of(ticket.pk)[-1]
    assert renewal[0] == "lease_expires_at"
    assert renewal[1] == row_iso(first.json())
    assert [name for name, *_ in history_of(ticket.pk, "claimed_by")] == ["claimed_by"]
    assert events_after(board, seq) == [("ticket_claimed", ticket.pk)]


def test_claim_after_expiry_succeeds_and_records_the_expiry(agent_api, second_agent_api, ticket):
    agent_api.post(f"/api/tickets/{ticket.pk}/claim", {}, "json")
    expire_lease(ticket.pk)
    assert agent_api.get(f"/api/tickets/{ticket.pk}").json()["claimed_by"] is None
    response = second_agent_api.post(f"/api/tickets/{ticket.pk}/claim", {}, "json")
    assert response.status_code == 200, response.content
    assert response.json()["claimed_by"] == "codex-2"
    rows = history_of(ticket.pk, "lease_expired", "claimed_by")
    assert rows[-2:] == [
        ("lease_expired", "claude-1", None, "codex-2"),
        ("claimed_by", "claude-1", "codex-2", "codex-2"),
    ]


@pytest.mark.parametrize("ticket_id", [999_999, 10**20])
def test_claim_of_an_unknown_ticket_is_404(agent_api, ticket_id):
    assert_error(agent_api.post(f"/api/tickets/{ticket_id}/claim", {}, "json"), 404, "not_found")


@pytest.mark.parametrize(
    "lease_seconds", [0, 9, -5, 24 * 60 * 60 + 1, 10**30, "soon", True, 12.5, [60], {"s": 1}, None]
)
def test_claim_refuses_a_bad_lease(agent_api, ticket, lease_seconds):
    response = agent_api.post(
        f"/api/tickets/{ticket.pk}/claim", {"lease_seconds": lease_seconds}, "json"
    )
    error = assert_error(response, 400, "invalid")
    assert [item["field"] for item in error["validation_errors"]] == ["lease_seconds"]
    assert row(ticket.pk).claimed_by_id is None


def test_claim_refuses_unknown_fields(agent_api, ticket):
    response = agent_api.post(f"/api/tickets/{ticket.pk}/claim", {"lease": 60}, "json")
    assert_error(response, 400, "invalid")
    assert row(ticket.pk).claimed_by_id is None


def test_a_blocked_ticket_cannot_be_claimed_until_its_blocker_is_done(
    agent_api, user, board, ticket
):
    blocker = make_ticket(user, board, "Design the grammar")
    ticket_set_dependencies(actor=user, ticket_id=ticket.pk, blocked_by=[blocker.pk])
    error = assert_error(agent_api.post(f"/api/tickets/{ticket.pk}/claim", {}, "json"), 409)
    assert error["code"] == "blocked"
    assert error["blocked_by"] == [blocker.pk]
    assert f"#{blocker.pk}" in error["message"]
    ticket_move(actor=user, ticket_id=blocker.pk, column="Testing")
    assert_error(agent_api.post(f"/api/tickets/{ticket.pk}/claim", {}, "json"), 409, "blocked")
    ticket_move(actor=user, ticket_id=blocker.pk, column="Done")
    assert agent_api.post(f"/api/tickets/{ticket.pk}/claim", {}, "json").status_code == 200


# ---------------------------------------------------------------- heartbeat


def test_heartbeat_extends_the_lease(agent_api, ticket, board):
    claimed = agent_api.post(f"/api/tickets/{ticket.pk}/claim", {"lease_seconds": 60}, "json")
    seq = last_seq(board)
    response = agent_api.post(f"/api/tickets/{ticket.pk}/heartbeat", {"lease_seconds": 600}, "json")
    assert response.status_code == 200, response.content
    assert 590 < seconds_left(response.json()) <= 600
    assert history_of(ticket.pk)[-1] == (
        "lease_expires_at",
        row_iso(claimed.json()),
        row(ticket.pk).lease_expires_at.isoformat(),
        "claude-1",
    )
    assert [kind for kind, _ in events_after(board, seq)] == ["ticket_updated"]


def test_heartbeat_uses_the_default_lease(agent_api, ticket, settings):
    agent_api.post(f"/api/tickets/{ticket.pk}/claim", {"lease_seconds": 60}, "json")
    body = agent_api.post(f"/api/tickets/{ticket.pk}/heartbeat").json()
    assert abs(seconds_left(body) - settings.CLAIM_LEASE_SECONDS) < 5


def test_heartbeat_by_another_agent_is_409_naming_the_holder(agent_api, second_agent_api, ticket):
    agent_api.post(f"/api/tickets/{ticket.pk}/claim", {}, "json")
    before = row(ticket.pk).lease_expires_at
    error = assert_error(
        second_agent_api.post(f"/api/tickets/{ticket.pk}/heartbeat", {}, "json"), 409, "claimed"
    )
    assert error["claimed_by"] == "claude-1"
    assert row(ticket.pk).lease_expires_at == before


def test_heartbeat_after_expiry_is_409_not_claimed(agent_api, ticket):
    agent_api.post(f"/api/tickets/{ticket.pk}/claim", {}, "json")
    expire_lease(ticket.pk)
    rows = len(history_of(ticket.pk))
    assert_error(agent_api.post(f"/api/tickets/{ticket.pk}/heartbeat"), 409, "not_claimed")
    assert row(ticket.pk).lease_expires_at < timezone.now()
    assert len(history_of(ticket.pk)) == rows


def test_heartbeat_of_an_unclaimed_or_unknown_ticket(agent_api, ticket):
    assert_error(agent_api.post(f"/api/tickets/{ticket.pk}/heartbeat"), 409, "not_claimed")
    assert_error(agent_api.post("/api/tickets/999999/heartbeat"), 404, "not_found")
    assert_error(
        agent_api.post(f"/api/tickets/{ticket.pk}/heartbeat", {"lease_seconds": 1}, "json"), 400
    )


# ---------------------------------------------------------------- release


def test_release_by_the_holder_clears_the_claim(agent_api, second_agent_api, ticket, board):
    agent_api.post(f"/api/tickets/{ticket.pk}/claim", {}, "json")
    seq = last_seq(board)
    response = agent_api.post(f"/api/tickets/{ticket.pk}/release")
    assert response.status_code == 200, response.content
    assert (response.json()["claimed_by"], response.json()["lease_expires_at"]) == (None, None)
    fresh = row(ticket.pk)
    assert (fresh.claimed_by_id, fresh.claimed_at, fresh.lease_expires_at) == (None, None, None)
    assert history_of(ticket.pk)[-1] == ("claimed_by", "claude-1", None, "claude-1")
    assert events_after(board, seq) == [("ticket_released", ticket.pk)]
    assert second_agent_api.post(f"/api/tickets/{ticket.pk}/claim").status_code == 200


def test_release_by_another_agent_is_403(agent_api, second_agent_api, ticket):
    agent_api.post(f"/api/tickets/{ticket.pk}/claim", {}, "json")
    error = assert_error(second_agent_api.post(f"/api/tickets/{ticket.pk}/release"), 403)
    assert "claude-1" in error["message"]
    assert row(ticket.pk).claimed_by.username == "claude-1"


def test_release_by_an_admin_works(agent_api, admin_api, ticket):
    agent_api.post(f"/api/tickets/{ticket.pk}/claim", {}, "json")
    response = admin_api.post(f"/api/tickets/{ticket.pk}/release")
    assert response.status_code == 200, response.content
    assert row(ticket.pk).claimed_by_id is None
    assert history_of(ticket.pk)[-1] == ("claimed_by", "claude-1", None, "root")


def test_release_of_an_unclaimed_ticket_is_409(agent_api, ticket):
    assert_error(agent_api.post(f"/api/tickets/{ticket.pk}/release"), 409, "not_claimed")
    assert_error(agent_api.post("/api/tickets/999999/release"), 404, "not_found")


def test_release_of_someone_elses_expired_claim_is_409_not_claimed(
    agent_api, second_agent_api, ticket
):
    agent_api.post(f"/api/tickets/{ticket.pk}/claim", {}, "json")
    expire_lease(ticket.pk)
    assert_error(second_agent_api.post(f"/api/tickets/{ticket.pk}/release"), 409, "not_claimed")


def test_the_holder_releasing_an_expired_claim_records_the_expiry(agent_api, ticket):
    agent_api.post(f"/api/tickets/{ticket.pk}/claim", {}, "json")
    expire_lease(ticket.pk)
    assert agent_api.post(f"/api/tickets/{ticket.pk}/release").status_code == 200
    assert history_of(ticket.pk)[-2:] == [
        ("lease_expired", "claude-1", None, "claude-1"),
        ("claimed_by", "claude-1", None, "claude-1"),
    ]


# ---------------------------------------------------------------- finishing ends a claim


def test_moving_a_claimed_ticket_to_the_last_column_ends_the_claim(agent_api, ticket, board):
    agent_api.post(f"/api/tickets/{ticket.pk}/claim", {}, "json")
    response = agent_api.post(f"/api/tickets/{ticket.pk}/move", {"column": "Done"}, "json")
    assert response.status_code == 200, response.content
    assert response.json()["claimed_by"] is None
    fresh = row(ticket.pk)
    assert (fresh.claimed_by_id, fresh.claimed_at, fresh.lease_expires_at) == (None, None, None)
    assert ("claimed_by", "claude-1", None, "claude-1") in history_of(ticket.pk)


def test_moving_a_claimed_ticket_elsewhere_keeps_the_claim(agent_api, ticket):
    agent_api.post(f"/api/tickets/{ticket.pk}/claim", {}, "json")
    agent_api.post(f"/api/tickets/{ticket.pk}/move", {"column": "In Progress"}, "json")
    assert row(ticket.pk).claimed_by.username == "claude-1"


@pytest.mark.parametrize("how", ["put", "bulk"])
def test_finishing_by_edit_or_bulk_move_ends_the_claim_too(agent_api, ticket, how):
    agent_api.post(f"/api/tickets/{ticket.pk}/claim", {}, "json")
    if how == "put":
        response = agent_api.put(f"/api/tickets/{ticket.pk}", {"current_column": "Done"}, "json")
    else:
        response = agent_api.post(
            "/api/bulk/tickets/move", {"ticket_ids": [ticket.pk], "column": "Done"}, "json"
        )
    assert response.status_code == 200, response.content
    assert row(ticket.pk).claimed_by_id is None
    assert ("claimed_by", "claude-1", None, "claude-1") in history_of(ticket.pk)
