"""Test data made through the services, the way real data is made."""

import itertools

from agents.models import User
from agents.services import agent_create
from boards.services import board_create
from tickets.services import ticket_create

_numbers = itertools.count(1)


def make_user(username: str | None = None, *, password: str = "correct horse 42", **extra) -> User:
    username = username or f"user{next(_numbers)}"
    return User.objects.create_user(username=username, password=password, **extra)


def make_agent(username: str | None = None):
    """An agent and its token secret."""
    issued = agent_create(username=username or f"agent{next(_numbers)}")
    return issued.token.user, issued.secret


def make_board(actor: User, name: str = "Board", columns=None, **extra):
    return board_create(actor=actor, name=name, columns=columns, **extra)


def make_ticket(actor: User, board, title: str | None = None, **extra):
    return ticket_create(
        actor=actor, board_id=board.pk, title=title or f"Ticket {next(_numbers)}", **extra
    )


def add_member(board, user: User, role: str = "member"):
    """Give `user` a role on `board` (board creators are already its admins), through the
    membership service, acting as one of the board's admins (or a site admin if it has none)."""
    from boards.models import BoardMembership, Role
    from boards.services import membership_set

    admin = (
        BoardMembership.objects.filter(board=board, role=Role.ADMIN)
        .select_related("user")
        .order_by("pk")
        .first()
    )
    actor = admin.user if admin is not None else _site_admin()
    return membership_set(actor=actor, board_id=board.pk, user_id=user.pk, role=role)


def _site_admin() -> User:
    admin = User.objects.filter(username="factory-admin").first()
    return admin or User.objects.create_user(username="factory-admin", is_staff=True)
