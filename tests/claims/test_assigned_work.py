"""Work assigned to someone is theirs: claim-next leaves it to them unless asked to take
it, and a claim of a ticket with no assignee makes the claimant its assignee for as long
as the claim lasts."""

import pytest

from tests.claims.helpers import assert_error, expire_lease, history_of
from tests.factories import make_ticket, make_user
from tickets.models import Ticket
from tickets.services import leases_expire

pytestmark = pytest.mark.django_db


def claim_next(client, board, **body):
    return client.post(f"/api/boards/{board.pk}/claim-next", body, "json")


def assignee(ticket_id: int) -> str | None:
    ticket = Ticket.objects.select_related("assignee").get(pk=ticket_id)
    return ticket.assignee.username if ticket.assignee_id else None


@pytest.fixture
def maria(board):
    return make_user("maria")


def test_claim_next_leaves_a_persons_assigned_ticket_to_them(agent_api, user, board, maria):
    hers = make_ticket(user, board, "Maria's", priority="critical", assignee="maria")
    free = make_ticket(user, board, "Anyone's", priority="low")

    taken = claim_next(agent_api, board)
    assert taken.status_code == 200, taken.content
    assert taken.json()["id"] == free.pk
    assert_error(claim_next(agent_api, board), 404, "nothing_to_claim")

    widened = claim_next(agent_api, board, include_assigned=True)
    assert widened.status_code == 200, widened.content
    assert widened.json()["id"] == hers.pk
    assert widened.json()["assignee"] == "maria"  # her assignment stays
    assert assignee(hers.pk) == "maria"


def test_claim_next_takes_what_is_assigned_to_the_caller(agent_api, user, board):
    mine = make_ticket(user, board, "Mine", priority="low", assignee="claude-1")
    make_ticket(user, board, "Someone's", priority="critical", assignee=user.username)
    taken = claim_next(agent_api, board)
    assert taken.status_code == 200, taken.content
    assert taken.json()["id"] == mine.pk


def test_include_assigned_must_be_a_boolean(agent_api, board):
    make_ticket(board.created_by, board, "Any")
    error = assert_error(claim_next(agent_api, board, include_assigned="maybe"), 400)
    assert error["validation_errors"][0]["field"] == "include_assigned"


def test_a_claim_assigns_an_unassigned_ticket_until_it_ends(agent_api, user, board):
    ticket = make_ticket(user, board, "Free")
    claimed = agent_api.post(f"/api/tickets/{ticket.pk}/claim", {}, "json")
    assert claimed.status_code == 200, claimed.content
    assert claimed.json()["assignee"] == "claude-1"
    assert ("assignee", None, "claude-1", "claude-1") in history_of(ticket.pk)

    released = agent_api.post(f"/api/tickets/{ticket.pk}/release")
    assert released.status_code == 200, released.content
    assert released.json()["assignee"] is None
    assert assignee(ticket.pk) is None
    assert history_of(ticket.pk, "assignee")[-1] == ("assignee", "claude-1", None, "claude-1")


def test_a_lapsed_claims_assignment_passes_to_whoever_claims_next(
    agent_api, second_agent_api, user, board
):
    ticket = make_ticket(user, board, "Abandoned")
    assert claim_next(agent_api, board).json()["assignee"] == "claude-1"
    expire_lease(ticket.pk)

    taken = claim_next(second_agent_api, board)
    assert taken.status_code == 200, taken.content
    assert (taken.json()["id"], taken.json()["assignee"]) == (ticket.pk, "codex-2")
    assert history_of(ticket.pk, "assignee")[-1] == ("assignee", "claude-1", "codex-2", "codex-2")


def test_an_expired_claims_assignment_is_cleared_with_it(agent_api, user, board):
    ticket = make_ticket(user, board, "Lapses")
    agent_api.post(f"/api/tickets/{ticket.pk}/claim", {}, "json")
    expire_lease(ticket.pk)
    assert leases_expire() == 1
    assert assignee(ticket.pk) is None


def test_a_claim_keeps_an_existing_assignment_after_it_ends(agent_api, user, board, maria):
    ticket = make_ticket(user, board, "Maria's", assignee="maria")
    claimed = agent_api.post(f"/api/tickets/{ticket.pk}/claim", {}, "json")
    assert claimed.json()["assignee"] == "maria"
    agent_api.post(f"/api/tickets/{ticket.pk}/release")
    assert assignee(ticket.pk) == "maria"
