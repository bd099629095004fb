"""A rule's move goes through the one move service as the forge identity, an agent: a
full column, another agent's claim and a review gate refuse it as they would anyone's.
The refusal becomes a comment on the ticket and is in the answer, which is still 200;
the link is made all the same."""

import pytest

from comments.models import Comment
from stats.models import RefusedMove
from tests.factories import make_ticket
from tests.forge.helpers import deliver, set_columns
from tests.forge.test_pull_requests import column_of, github_pr
from tickets.services import ticket_claim, ticket_move

pytestmark = pytest.mark.django_db


def refusal_comment(ticket) -> str:
    (text,) = Comment.objects.filter(
        ticket=ticket, author__username="forge", text__contains="could not move"
    ).values_list("text", flat=True)
    return text


def test_a_full_column_refuses_the_move_and_says_so(user, board):
    set_columns(user, board, Review={"wip_limit": 1})
    make_ticket(user, board, "Already in review", column="Review")
    ticket = make_ticket(user, board, "Waiting")
    response = deliver("github", board.pk, github_pr("opened", ticket.pk), "pull_request")
    assert response.status_code == 200, response.content
    (refused,) = response.json()["refused"]
    assert (refused["ticket_id"], refused["column"], refused["code"]) == (
        ticket.pk,
        "Review",
        "wip_limit",
    )
    assert response.json()["moved"] == [] and response.json()["linked"]
    assert column_of(ticket) == "Backlog"
    text = refusal_comment(ticket)
    assert text.startswith("GitHub pull request #2 opened, but this ticket could not move to")
    assert "WIP limit (1 of 1)" in text
    assert ticket.links.count() == 1


def test_another_agents_claim_refuses_the_move(board, agent_with_token):
    agent, _ = agent_with_token
    ticket = make_ticket(agent, board, "Mine")
    ticket_claim(actor=agent, ticket_id=ticket.pk)
    response = deliver("github", board.pk, github_pr("opened", ticket.pk), "pull_request")
    assert response.status_code == 200
    assert response.json()["refused"][0]["code"] == "claimed"
    assert "is claimed by claude-1" in refusal_comment(ticket)
    assert column_of(ticket) == "Backlog"
    # The claimant opened the pull request: the link is there even so.
    assert ticket.links.get().kind == "pull_request"


def test_a_review_gate_refuses_the_merge_move(user, board):
    set_columns(user, board, Review={"requires_review": True})
    ticket = make_ticket(user, board, "Reviewed work")
    deliver("github", board.pk, github_pr("opened", ticket.pk), "pull_request")
    assert column_of(ticket) == "Review"
    merged = github_pr("closed", ticket.pk, merged=True)
    response = deliver("github", board.pk, merged, "pull_request")
    assert response.status_code == 200
    assert response.json()["refused"][0]["code"] == "review_required"
    assert column_of(ticket) == "Review"
    assert "waits for review in 'Review'" in refusal_comment(ticket)
    assert ticket.links.get().state == "merged"


def test_a_refused_move_is_counted_like_any_other(user, board):
    set_columns(user, board, Review={"wip_limit": 1})
    make_ticket(user, board, "Already in review", column="Review")
    ticket = make_ticket(user, board, "Waiting")
    deliver("github", board.pk, github_pr("opened", ticket.pk), "pull_request")
    assert RefusedMove.objects.filter(ticket_id=ticket.pk, reason="wip_limit").exists()


def test_a_parent_with_open_subtasks_stays_out_of_done(user, board):
    parent = make_ticket(user, board, "Parent")
    make_ticket(user, board, "Child", parent_id=parent.pk)
    ticket_move(actor=user, ticket_id=parent.pk, column="Review")
    merged = github_pr("closed", parent.pk, merged=True)
    response = deliver("github", board.pk, merged, "pull_request")
    assert response.json()["refused"][0]["code"] == "open_subtasks"
    assert column_of(parent) == "Review"
