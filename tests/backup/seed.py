"""Data for the backup tests, made through the services the way real data is made.
Run inside a child process pointed at the database to fill (see procs.run_django)."""

from agents.models import ApiToken
from agents.services import hash_token, token_issue
from boards.services import board_set_columns
from comments.services import comment_create
from tests.factories import add_member, make_agent, make_board, make_ticket, make_user
from tickets.models import Ticket
from tickets.services import (
    ticket_add_dependency,
    ticket_claim,
    ticket_create,
    ticket_delete,
    ticket_move,
    ticket_update,
)


def seed() -> dict:
    """Two boards with members of every role, tickets with labels, dependencies and a
    live claim, comments, edits, a deleted ticket, and tokens of several kinds."""
    alice = make_user("alice", first_name="Alice", email="alice@example.com")
    bob = make_user("bob", last_name="Bérénice")
    viewer = make_user("vera")
    agent, secret = make_agent("claude-backup")

    shop = make_board(alice, "Shop", columns=["Backlog", "Doing", "Review", "Done"])
    shop.refresh_from_db()
    add_member(shop, bob, "member")
    add_member(shop, agent, "agent")
    add_member(shop, viewer, "viewer")
    board_set_columns(
        actor=alice,
        board_id=shop.pk,
        columns=[
            {
                "id": column.pk,
                "name": column.name,
                "wip_limit": 5 if column.name == "Doing" else None,
            }
            for column in shop.columns.order_by("position")
        ],
    )
    ops = make_board(bob, "Ops — ünïcode ✓", description="Runbooks & *markdown*")

    tickets = [
        make_ticket(
            alice,
            shop,
            f"Ticket {number}: checkout fails for O'Connell Street",
            description="Steps:\n1. add to cart\n2. pay",
            acceptance_criteria="- works\n- tested",
            priority=["low", "medium", "high", "critical"][number % 4],
            labels=[["bug"], ["bug", "checkout"], [], ["feature"]][number % 4],
            assignee=["bob", None, "claude-backup"][number % 3],
        )
        for number in range(24)
    ]
    first, second, third = tickets[:3]
    ticket_add_dependency(actor=alice, ticket_id=second.pk, blocked_by_id=first.pk)
    ticket_add_dependency(actor=bob, ticket_id=third.pk, blocked_by_id=first.pk)
    ticket_claim(actor=agent, ticket_id=first.pk)
    ticket_move(actor=agent, ticket_id=first.pk, column="Doing")
    ticket_update(actor=bob, ticket_id=tickets[5].pk, priority="critical", title="Renamed ✓")
    # Subtasks, two levels of them.
    ticket_update(actor=alice, ticket_id=tickets[11].pk, parent_id=tickets[10].pk)
    ticket_update(actor=alice, ticket_id=tickets[12].pk, parent_id=tickets[11].pk)
    for ticket in tickets[6:10]:
        ticket_move(actor=bob, ticket_id=ticket.pk, column="Done")
    comment_create(actor=bob, ticket_id=first.pk, text="Looks like **the validator** — ✓")
    comment_create(actor=agent, ticket_id=first.pk, text="Picking this up.")
    ticket_delete(actor=alice, ticket_id=tickets[-1].pk)
    ticket_create(actor=bob, board_id=ops.pk, title="Rotate certificates", labels=["ops"])

    limited = token_issue(
        actor=None, user=bob, name="read-only shop", read_only=True, board_ids=[shop.pk]
    )
    return {
        "secret": secret,
        "limited_secret": limited.secret,
        "board_id": shop.pk,
        "max_ticket_id": max(Ticket.objects.values_list("pk", flat=True)),
        "tokens": ApiToken.objects.count(),
    }


def check(*, secret: str, board_id: int, max_ticket_id: int) -> dict:
    """What a restored installation must still do: know the agent by its token, show
    the board, and hand out fresh ids above every restored one."""
    from boards.models import Board

    token = ApiToken.objects.select_related("user").get(key_hash=hash_token(secret))
    board = Board.objects.get(pk=board_id)
    owner = board.created_by
    made = ticket_create(actor=owner, board_id=board_id, title="Made after the restore")
    return {
        "agent": token.user.username,
        "board": board.name,
        "new_id_is_fresh": made.pk > max_ticket_id,
        "tickets": Ticket.objects.filter(board_id=board_id).count(),
    }
