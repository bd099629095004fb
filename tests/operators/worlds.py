"""Boards with a bit of everything, made through the services as real use makes them."""

from django.db.models import Model

from agents.services import token_issue
from boards.models import Board, BoardEvent
from boards.selectors import board_columns
from boards.services import board_create, board_set_columns
from comments.services import comment_create
from history.models import TicketHistory
from tests.factories import add_member, make_agent, make_user
from tickets.models import Label
from tickets.services import (
    ticket_add_dependency,
    ticket_claim,
    ticket_create,
    ticket_delete,
    ticket_move,
    ticket_set_dependencies,
    ticket_update,
)


def set_wip(actor, board: Board, limits: dict[str, int]) -> None:
    board_set_columns(
        actor=actor,
        board_id=board.pk,
        columns=[
            {"id": c["id"], "name": c["name"], "wip_limit": limits.get(c["name"], c["wip_limit"])}
            for c in board_columns(board_id=board.pk)
        ],
    )


def busy_board(user, other_user, agent, name: str = "Shop") -> Board:
    """Three columns, a WIP limit, labels, moves by three actors, a claim, a dependency,
    comments, an edit and a deleted ticket (whose history outlives it)."""
    board = board_create(
        actor=user,
        name=name,
        description="Web shop\nwith *markdown*",
        columns=["Backlog", "Doing", "Done"],
    )
    add_member(board, other_user, "member")
    add_member(board, agent, "agent")
    set_wip(user, board, {"Doing": 5})
    one = ticket_create(
        actor=user,
        board_id=board.pk,
        title="Checkout fails",
        description="Stack trace attached.",
        acceptance_criteria="- no 500\n- a test",
        priority="high",
        labels=["bug", "checkout"],
        assignee=agent.username,
    )
    two = ticket_create(
        actor=other_user, board_id=board.pk, title="Dark mode", column="Doing", labels=["ui"]
    )
    three = ticket_create(actor=agent, board_id=board.pk, title="Write docs", priority="low")
    doomed = ticket_create(actor=user, board_id=board.pk, title="Obsolete idea")
    ticket_create(actor=user, board_id=board.pk, title="Top card", position="top")
    ticket_add_dependency(actor=user, ticket_id=three.pk, blocked_by_id=one.pk)
    ticket_claim(actor=agent, ticket_id=one.pk)
    ticket_move(actor=agent, ticket_id=one.pk, column="Doing")
    ticket_move(actor=other_user, ticket_id=two.pk, column="Done")
    ticket_update(actor=other_user, ticket_id=three.pk, title="Write the docs", priority="critical")
    ticket_update(
        actor=user, ticket_id=two.pk, labels=["ui", "design"], assignee=other_user.username
    )
    comment_create(actor=user, ticket_id=one.pk, text="Seen on production too.")
    comment_create(actor=agent, ticket_id=one.pk, text="Fix is in PR #12.")
    comment_create(actor=other_user, ticket_id=two.pk, text="Looks great!")
    comment_create(actor=user, ticket_id=doomed.pk, text="Gone with the ticket.")
    ticket_delete(actor=user, ticket_id=doomed.pk)
    return board


def sized_world(n: int, tag: str) -> dict[str, Model]:
    """About `n` rows of every model, and for each model one row whose own page shows
    about `n` related rows. Returns that row per model."""
    owner = make_user(f"owner-{tag}", is_staff=True)
    people = [make_user(f"person-{tag}-{i}") for i in range(n)]
    agent, _ = make_agent(f"agent-{tag}")
    tokens = [token_issue(actor=None, user=agent, name=f"token {i}").token for i in range(n)]
    board = board_create(actor=owner, name=f"Board {tag}", columns=[f"Col {i}" for i in range(n)])
    for i in range(n):
        board_create(actor=people[i], name=f"Other {tag} {i}", columns=["Only"])
        add_member(board, people[i], "member")
    tickets = [
        ticket_create(
            actor=people[i],
            board_id=board.pk,
            title=f"Ticket {tag} {i}",
            column=f"Col {i % n}",
            assignee=people[(i + 1) % n].username,
            labels=[f"label-{i}"],
        )
        for i in range(n)
    ]
    main = ticket_create(
        actor=owner,
        board_id=board.pk,
        title=f"Main {tag}",
        labels=[f"label-{i}" for i in range(min(n, 20))],
    )
    ticket_set_dependencies(
        actor=owner, ticket_id=main.pk, blocked_by=[ticket.pk for ticket in tickets]
    )
    comments = [
        comment_create(actor=people[i], ticket_id=main.pk, text=f"Comment {i}") for i in range(n)
    ]
    return {
        "user": people[0],
        "apitoken": tokens[0],
        "board": board,
        "column": board.columns.first(),
        "ticket": main,
        "label": Label.objects.filter(board=board).first(),
        "comment": comments[0],
        "tickethistory": TicketHistory.objects.filter(ticket_id=main.pk).last(),
        "boardevent": BoardEvent.objects.filter(board=board).last(),
    }
