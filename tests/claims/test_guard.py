"""Only the holder of a live claim, or an admin, may change a claimed ticket."""

import pytest

from tests.claims.helpers import assert_error, expire_lease, last_seq, row
from tests.factories import make_ticket
from tickets.models import Ticket
from tickets.services import ticket_claim

pytestmark = pytest.mark.django_db


@pytest.fixture
def claimed(user, board, agent):
    """Two tickets; the first is claimed by claude-1."""
    first = make_ticket(user, board, "Claimed")
    make_ticket(user, board, "Free")
    ticket_claim(actor=agent, ticket_id=first.pk)
    return first


def free_ticket(board) -> Ticket:
    return Ticket.objects.get(board=board, title="Free")


def state(board) -> list[tuple]:
    return list(
        Ticket.objects.filter(board=board)
        .order_by("pk")
        .values_list("pk", "title", "column_id", "priority", "assignee_id", "version")
    )


def writes(ticket: Ticket, other: Ticket) -> dict:
    """One request per write path, each of which would change `ticket`."""
    both = [other.pk, ticket.pk]
    return {
        "put": ("put", f"/api/tickets/{ticket.pk}", {"title": "Hijacked"}),
        "patch": ("patch", f"/api/tickets/{ticket.pk}", {"priority": "low"}),
        "move": ("post", f"/api/tickets/{ticket.pk}/move", {"column": "Testing"}),
        "delete": ("delete", f"/api/tickets/{ticket.pk}", None),
        "dependencies": (
            "put",
            f"/api/tickets/{ticket.pk}/dependencies",
            {"blocked_by": [other.pk]},
        ),
        "bulk_move": ("post", "/api/bulk/tickets/move", {"ticket_ids": both, "column": "Testing"}),
        "bulk_priority": (
            "post",
            "/api/bulk/tickets/priority",
            {"ticket_ids": both, "priority": "critical"},
        ),
        "bulk_assign": (
            "post",
            "/api/bulk/tickets/assign",
            {"ticket_ids": both, "assignee": "alice"},
        ),
    }


PATHS = [
    "put",
    "patch",
    "move",
    "delete",
    "dependencies",
    "bulk_move",
    "bulk_priority",
    "bulk_assign",
]


def assert_changed(ticket: Ticket, path: str) -> None:
    if path == "delete":
        assert not Ticket.objects.filter(pk=ticket.pk).exists()
    else:
        # The claim itself bumped the version once; the write bumps it again.
        assert row(ticket.pk).version == ticket.version + 2


def send(client, request):
    method, url, data = request
    return getattr(client, method)(url, data, "json") if data is not None else client.delete(url)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("who", ["second_agent_api", "member_api"])
def test_others_get_409_naming_the_holder_and_nothing_changes(request, claimed, board, path, who):
    client = request.getfixturevalue(who)
    before, seq = state(board), last_seq(board)
    response = send(client, writes(claimed, free_ticket(board))[path])
    error = assert_error(response, 409, "claimed")
    assert "claude-1" in error["message"]
    assert error["claimed_by"] == "claude-1"
    assert state(board) == before
    assert last_seq(board) == seq


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("who", ["agent_api", "admin_api"])
def test_the_holder_and_an_admin_may_change_it(request, claimed, board, path, who):
    client = request.getfixturevalue(who)
    response = send(client, writes(claimed, free_ticket(board))[path])
    assert response.status_code in (200, 204), response.content
    assert_changed(claimed, path)


@pytest.mark.parametrize("path", PATHS)
def test_after_expiry_anyone_may_change_it(second_agent_api, claimed, board, path):
    expire_lease(claimed.pk)
    response = send(second_agent_api, writes(claimed, free_ticket(board))[path])
    assert response.status_code in (200, 204), response.content
    assert_changed(claimed, path)
