"""The same delivery (a forge's retry, a redelivery from its settings, or someone replaying
a captured request) does nothing the second time: no link, comment, move, history or
event; the answer says it was done before, and what it did then."""

import threading

import pytest
from django.db import connection

from boards.models import BoardEvent
from comments.models import Comment
from forge.models import ForgeDelivery
from history.models import TicketHistory
from tests.factories import make_ticket
from tests.forge.helpers import deliver
from tests.forge.test_pull_requests import column_of, github_pr, gitlab_mr
from tickets.models import TicketLink
from tickets.services import ticket_move


def footprint(board) -> tuple:
    return (
        TicketLink.objects.filter(ticket__board=board).count(),
        Comment.objects.filter(ticket__board=board).count(),
        TicketHistory.objects.filter(board=board).count(),
        BoardEvent.objects.filter(board=board).count(),
    )


@pytest.mark.django_db
@pytest.mark.parametrize("forge", ["github", "gitlab"])
def test_the_same_delivery_twice_does_nothing_the_second_time(forge, user, board):
    ticket = make_ticket(user, board, "Once")
    if forge == "github":
        payload, event = github_pr("opened", ticket.pk), "pull_request"
    else:
        payload, event = gitlab_mr(ticket.pk), "Merge Request Hook"
    first = deliver(forge, board.pk, payload, event, delivery="delivery-1")
    assert first.status_code == 200 and first.json()["moved"]
    before = footprint(board)
    # Meanwhile someone moves the ticket back: a replay must not move it again.
    ticket_move(actor=user, ticket_id=ticket.pk, column="Backlog")
    moved_back = footprint(board)
    again = deliver(forge, board.pk, payload, event, delivery="delivery-1")
    assert again.status_code == 200
    assert again.json() == {**first.json(), "replayed": True}
    assert footprint(board) == moved_back != before
    assert column_of(ticket) == "Backlog"
    assert ForgeDelivery.objects.filter(board=board, delivery_id="delivery-1").count() == 1


@pytest.mark.django_db
def test_another_delivery_of_the_same_event_is_new_work(user, board):
    ticket = make_ticket(user, board, "Twice")
    payload = github_pr("opened", ticket.pk)
    deliver("github", board.pk, payload, "pull_request", delivery="a")
    ticket_move(actor=user, ticket_id=ticket.pk, column="Backlog")
    again = deliver("github", board.pk, payload, "pull_request", delivery="b").json()
    assert again["moved"] and "replayed" not in again
    assert column_of(ticket) == "Review"


@pytest.mark.django_db
def test_a_delivery_without_an_id_is_known_by_its_body(user, board):
    ticket = make_ticket(user, board, "No id")
    payload = github_pr("opened", ticket.pk)
    headers = {"X-GitHub-Delivery": ""}
    deliver("github", board.pk, payload, "pull_request", headers=headers)
    assert deliver("github", board.pk, payload, "pull_request", headers=headers).json()["replayed"]


@pytest.mark.django_db
def test_delivery_ids_are_per_board_and_forge(user, board):
    ticket = make_ticket(user, board, "Shared id")
    deliver("github", board.pk, github_pr("opened", ticket.pk), "pull_request", delivery="x")
    answer = deliver("gitlab", board.pk, gitlab_mr(ticket.pk), "Merge Request Hook", delivery="x")
    assert "replayed" not in answer.json() and answer.json()["linked"]


@pytest.mark.django_db(transaction=True)
def test_racing_copies_of_one_delivery_act_once(user, board):
    """Four copies at once, on real connections: the delivery id's unique row, inserted
    in the transaction of the work, lets one of them act; the others replay it."""
    ticket = make_ticket(user, board, "Raced")
    payload = github_pr("opened", ticket.pk)
    answers, start = [], threading.Barrier(4)

    def send() -> None:
        try:
            start.wait()
            answers.append(deliver("github", board.pk, payload, "pull_request", delivery="r"))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answer.status_code for answer in answers) == [200] * 4
    assert sorted(bool(answer.json().get("replayed")) for answer in answers) == [
        False,
        True,
        True,
        True,
    ]
    assert TicketLink.objects.filter(ticket=ticket).count() == 1
    assert Comment.objects.filter(ticket=ticket).count() == 1
    assert column_of(ticket) == "Review"
