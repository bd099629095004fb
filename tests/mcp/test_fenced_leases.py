"""Fenced leases over MCP: a worker whose lease ran out and whose task was claimed again
is refused with lease_lost on every write it names its old claim_token in, and nothing
changes; its successor's token works."""

from datetime import timedelta

import pytest
from django.utils import timezone

from boards.models import BoardEvent
from comments.models import Comment
from history.models import TicketHistory
from tests.factories import make_ticket
from tests.mcp.helpers import call, data, error_text
from tickets.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True)


def lapse(ticket_id: int) -> None:
    Ticket.objects.filter(pk=ticket_id).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )


def test_a_worker_that_lost_its_lease_is_refused_and_changes_nothing(
    owner, work_board, agent, other_agent
):
    _, slow = agent
    _, successor = other_agent
    ticket = make_ticket(owner, work_board, "Contested")
    first = data(call(slow, "claim_task", task_id=ticket.pk, lease_seconds=10))
    old_token = first["claim_token"]
    lapse(ticket.pk)
    second = data(call(successor, "claim_next_task", board_id=work_board.pk))
    assert second["task"]["id"] == ticket.pk and second["claim_token"] != old_token
    before = (
        Ticket.objects.values().get(pk=ticket.pk),
        TicketHistory.objects.count(),
        BoardEvent.objects.count(),
        Comment.objects.count(),
    )

    refusals = [
        call(slow, "heartbeat", task_id=ticket.pk, claim_token=old_token),
        call(slow, "edit_task", task_id=ticket.pk, title="Mine", claim_token=old_token),
        call(slow, "update_task_status", task_id=ticket.pk, column="Done", claim_token=old_token),
        call(slow, "add_comment", task_id=ticket.pk, text="Done!", claim_token=old_token),
        call(slow, "release_task", task_id=ticket.pk, claim_token=old_token),
    ]

    for refused in refusals:
        assert error_text(refused).startswith("conflict/lease_lost:"), refused.content
        assert refused.structured_content["error"]["code"] == "lease_lost"
    after = (
        Ticket.objects.values().get(pk=ticket.pk),
        TicketHistory.objects.count(),
        BoardEvent.objects.count(),
        Comment.objects.count(),
    )
    assert after == before
    # The successor's own token goes through.
    beat = data(call(successor, "heartbeat", task_id=ticket.pk, claim_token=second["claim_token"]))
    assert beat["claim_token"] == second["claim_token"]
    noted = call(
        successor,
        "add_comment",
        task_id=ticket.pk,
        text="Taking over.",
        claim_token=beat["claim_token"],
    )
    assert data(noted)["comment"]["task_id"] == ticket.pk


def test_the_same_identity_from_another_worker_is_fenced_too(owner, work_board, agent):
    _, secret = agent
    ticket = make_ticket(owner, work_board, "Mine twice")
    old = data(call(secret, "claim_task", task_id=ticket.pk))["claim_token"]
    lapse(ticket.pk)
    new = data(call(secret, "claim_task", task_id=ticket.pk))["claim_token"]
    assert new != old
    refused = call(secret, "update_task_status", task_id=ticket.pk, column="Done", claim_token=old)
    assert error_text(refused).startswith("conflict/lease_lost:")
    moved = data(
        call(secret, "update_task_status", task_id=ticket.pk, column="Done", claim_token=new)
    )
    assert moved["task"]["current_column"] == "Done"


def test_a_malformed_token_is_bad_input(owner, work_board, agent):
    _, secret = agent
    ticket = make_ticket(owner, work_board, "Odd token")
    data(call(secret, "claim_task", task_id=ticket.pk))
    refused = call(secret, "heartbeat", task_id=ticket.pk, claim_token="not-a-token")
    assert refused.is_error
    assert refused.structured_content["error"]["code"] == "invalid"
