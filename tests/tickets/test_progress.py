"""What an agent is doing now: progress reports by the claimant, shown until the claim
ends, sent as `ticket_progress` events (not history), limited per ticket."""

from datetime import timedelta

import pytest
from django.utils import timezone

from boards.models import BoardEvent
from history.models import TicketHistory
from tests.factories import add_member, make_agent, make_ticket
from tests.mcp.helpers import call, data, error_text
from tests.tickets.helpers import assert_error
from tickets.models import Ticket
from tickets.services import ticket_claim
from web.templatetags.board_tags import card_context, render_cards

pytestmark = pytest.mark.django_db


@pytest.fixture
def held(user, board, agent_with_token):
    """A ticket the token's agent holds, and its claim token."""
    ticket = make_ticket(user, board, "Being worked on")
    claimed = ticket_claim(actor=agent_with_token[0], ticket_id=ticket.pk)
    return ticket, claimed.claim_token


def report(client, ticket_id: int, **body):
    return client.post(f"/api/tickets/{ticket_id}/progress", body, format="json")


def test_the_claimant_reports_and_everyone_sees_it_until_the_claim_ends(
    agent_api, api, board, held
):
    ticket, _ = held
    history_before = TicketHistory.objects.filter(ticket_id=ticket.pk).count()

    answered = report(agent_api, ticket.pk, status="running the test suite", percent=60)

    assert answered.status_code == 200, answered.content
    progress = answered.json()["progress"]
    assert (progress["status"], progress["percent"]) == ("running the test suite", 60)
    assert api.get(f"/api/tickets/{ticket.pk}").json()["progress"] == progress
    event = BoardEvent.objects.filter(board=board).latest("seq")
    assert event.type == "ticket_progress"
    assert event.payload == {"id": ticket.pk, **progress}
    assert TicketHistory.objects.filter(ticket_id=ticket.pk).count() == history_before
    assert Ticket.objects.get(pk=ticket.pk).version == ticket.version + 1  # the claim's, not this
    (shown,) = [card_context(Ticket.objects.get(pk=ticket.pk), timezone.now())]
    markup = render_cards([shown])
    assert "data-progress" in markup and "running the test suite · 60 %" in markup

    released = agent_api.post(f"/api/tickets/{ticket.pk}/release", {}, format="json")
    assert released.status_code == 200, released.content
    assert released.json()["progress"] == {"status": None, "percent": None, "at": None}


def test_a_report_ends_when_the_lease_lapses_or_someone_else_claims(
    agent_api, api, board, held, user
):
    ticket, _ = held
    assert report(agent_api, ticket.pk, status="halfway").status_code == 200
    Ticket.objects.filter(pk=ticket.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert api.get(f"/api/tickets/{ticket.pk}").json()["progress"]["status"] is None
    other, _ = make_agent("second-worker")
    add_member(board, other, "agent")
    ticket_claim(actor=other, ticket_id=ticket.pk)
    # The old report was made under the previous claim: it does not show under the new one.
    assert api.get(f"/api/tickets/{ticket.pk}").json()["progress"]["status"] is None


def test_only_the_claimant_reports(member_api, api, board, held, user):
    ticket, _ = held
    assert_error(report(member_api, ticket.pk, status="not mine"), 409, code="not_claimant")
    free = make_ticket(user, board, "Unclaimed")
    assert_error(report(api, free.pk, status="nobody holds it"), 409, code="not_claimant")


def test_bad_reports_are_refused_and_write_nothing(agent_api, board, held):
    ticket, _ = held
    events = BoardEvent.objects.count()
    for body, field in [
        ({"status": ""}, "status"),
        ({"status": "x" * 201}, "status"),
        ({"status": 5}, "status"),
        ({}, "status"),
        ({"status": "ok", "percent": 101}, "percent"),
        ({"status": "ok", "percent": -1}, "percent"),
        ({"status": "ok", "percent": True}, "percent"),
        ({"status": "ok", "percent": "50"}, "percent"),
        ({"status": "ok", "percent": 5.5}, "percent"),
        ({"status": "ok", "extra": 1}, None),
    ]:
        assert_error(report(agent_api, ticket.pk, **body), 400, field=field)
    assert BoardEvent.objects.count() == events


def test_reports_are_limited_per_ticket(agent_api, held, settings):
    ticket, _ = held
    settings.PROGRESS_MIN_INTERVAL_SECONDS = 60
    assert report(agent_api, ticket.pk, status="one").status_code == 200
    too_soon = report(agent_api, ticket.pk, status="two")
    assert_error(too_soon, 429, code="rate_limited")
    assert 1 <= int(too_soon["Retry-After"]) <= 60
    assert Ticket.objects.get(pk=ticket.pk).progress_status == "one"
    settings.PROGRESS_MIN_INTERVAL_SECONDS = 0
    assert report(agent_api, ticket.pk, status="three").status_code == 200


def test_a_lost_claim_cannot_report(agent_api, held):
    ticket, token = held
    Ticket.objects.filter(pk=ticket.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    lost = report(agent_api, ticket.pk, status="still here?", claim_token=token)
    assert_error(lost, 409, code="lease_lost")


@pytest.mark.django_db(transaction=True)
def test_report_progress_over_mcp(user, board, agent_with_token):
    _, secret = agent_with_token
    ticket = make_ticket(user, board, "Over MCP")
    token = data(call(secret, "claim_task", task_id=ticket.pk))["claim_token"]
    answer = data(
        call(secret, "report_progress", task_id=ticket.pk, status="compiling", claim_token=token)
    )
    assert answer["task_id"] == ticket.pk
    assert (answer["progress"]["status"], answer["progress"]["percent"]) == ("compiling", None)
    refused = call(secret, "report_progress", task_id=ticket.pk, status="again")
    assert error_text(refused).startswith("rate_limited:")
    assert data(call(secret, "get_task", task_id=ticket.pk))["task"]["progress"]["status"] == (
        "compiling"
    )
