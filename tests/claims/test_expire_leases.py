"""`python manage.py expire_leases`: the periodic job that makes expiry visible."""

from io import StringIO

import pytest
from django.core.management import call_command

from tests.claims.helpers import events_after, expire_lease, history_of, last_seq, manage, row
from tests.factories import make_ticket
from tickets.services import ticket_claim

pytestmark = pytest.mark.django_db


def run() -> str:
    out = StringIO()
    call_command("expire_leases", stdout=out)
    return out.getvalue()


@pytest.fixture
def claims(user, board, agent, second_agent):
    """Four tickets: two expired claims, one live claim, one never claimed."""
    tickets = {name: make_ticket(user, board, name) for name in ["old", "older", "live", "free"]}
    ticket_claim(actor=agent, ticket_id=tickets["old"].pk)
    ticket_claim(actor=second_agent, ticket_id=tickets["older"].pk)
    ticket_claim(actor=agent, ticket_id=tickets["live"].pk)
    expire_lease(tickets["old"].pk)
    expire_lease(tickets["older"].pk, seconds_ago=3600)
    return tickets


def test_clears_expired_claims_only(claims, board):
    seq = last_seq(board)
    assert run().strip() == "Cleared 2 expired claims."
    for name in ["old", "older"]:
        ticket = row(claims[name].pk)
        assert (ticket.claimed_by_id, ticket.claimed_at, ticket.lease_expires_at) == (
            None,
            None,
            None,
        )
    assert row(claims["live"].pk).claimed_by.username == "claude-1"
    assert history_of(claims["old"].pk)[-2:] == [
        ("lease_expired", "claude-1", None, None),
        ("claimed_by", "claude-1", None, None),
    ]
    assert history_of(claims["older"].pk)[-2:] == [
        ("lease_expired", "codex-2", None, None),
        ("claimed_by", "codex-2", None, None),
    ]
    assert sorted(events_after(board, seq)) == sorted(
        [("ticket_released", claims["old"].pk), ("ticket_released", claims["older"].pk)]
    )


def test_a_second_run_finds_nothing(claims, board):
    run()
    seq = last_seq(board)
    assert run().strip() == "Cleared 0 expired claims."
    assert last_seq(board) == seq
    assert row(claims["live"].pk).claimed_by.username == "claude-1"


def test_one_claim_is_singular(user, board, agent):
    ticket = make_ticket(user, board, "one")
    ticket_claim(actor=agent, ticket_id=ticket.pk)
    expire_lease(ticket.pk)
    assert run().strip() == "Cleared 1 expired claim."


@pytest.mark.django_db(transaction=True)
def test_runs_as_a_real_command(claims, tmp_path):
    """The way cron runs it: its own process, the same database."""
    done = manage("expire_leases", var_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Cleared 2 expired claims."
    assert row(claims["old"].pk).claimed_by_id is None
