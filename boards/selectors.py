from collections import defaultdict

from django.contrib.auth import get_user_model
from django.db.models import Count, Prefetch, QuerySet

from boards.access import READ, readable_boards, require_board
from boards.models import Board, BoardMembership, Column, Role
from core.errors import InvalidInput, NotFound


def board_list(*, actor) -> QuerySet[Board]:
    """The boards `actor` may read (all of them for site admins)."""
    return (
        readable_boards(Board.objects.all(), actor)
        .annotate(ticket_count=Count("tickets"))
        .select_related("created_by")
        .prefetch_related(Prefetch("columns", queryset=Column.objects.order_by("position")))
        .order_by("name", "id")
    )


def board_readable(*, actor, board_id: int) -> None:
    """`require_board(actor, board_id, READ)`, and the board must exist: NotFound, word for
    word as for a board one may not read, otherwise. A site admin is an admin of every
    board id, so their role proves no board exists: for them (alone) one query asks. For
    anyone else the role comes from a membership, which goes with its board."""
    require_board(actor, board_id, READ)
    if actor.is_staff and not Board.objects.filter(pk=board_id).exists():
        raise NotFound(f"Board {board_id} does not exist.")


def board_get(*, actor, board_id: int) -> Board:
    require_board(actor, board_id, READ)
    board = board_list(actor=actor).filter(pk=board_id).first()
    if board is None:
        raise NotFound(f"Board {board_id} does not exist.")
    return board


def board_for_operator(*, id_or_name: str) -> Board:
    """The board an operator names at the command line: by id when it is all digits,
    else by its exact name, which must be one board's (NotFound / InvalidInput)."""
    text = id_or_name.strip()
    if text.isascii() and text.isdigit():
        board = Board.objects.filter(pk=int(text)).first()
        if board is None:
            raise NotFound(f"No board with id {text}.")
        return board
    boards = list(Board.objects.filter(name=text).order_by("id")[:2])
    if not boards:
        raise NotFound(f"No board named {text!r}.")
    if len(boards) > 1:
        raise InvalidInput(f"Several boards are named {text!r}: name one by its id.")
    return boards[0]


def board_columns(*, board_id: int) -> list[dict]:
    """The board's columns in order with their ticket counts, in one query."""
    columns = (
        Column.objects.filter(board_id=board_id)
        .annotate(ticket_count=Count("tickets"))
        .order_by("position")
    )
    return [
        {
            "id": column.pk,
            "name": column.name,
            "position": column.position,
            "wip_limit": column.wip_limit,
            "requires_review": column.requires_review,
            "ticket_count": column.ticket_count,
            "is_full": column.wip_limit is not None and column.ticket_count >= column.wip_limit,
        }
        for column in columns
    ]


def board_members(*, actor, board_id: int) -> QuerySet[BoardMembership]:
    """The board's members with their roles, by username."""
    board_readable(actor=actor, board_id=board_id)
    return (
        BoardMembership.objects.filter(board_id=board_id)
        .select_related("user")
        .order_by("user__username")
    )


def membership_get(*, actor, board_id: int, user_id: int) -> BoardMembership:
    membership = board_members(actor=actor, board_id=board_id).filter(user_id=user_id).first()
    if membership is None:
        raise NotFound(f"User {user_id} is not a member of board {board_id}.")
    return membership


def user_by_username(username: str):
    """The active user called `username`, or None."""
    return get_user_model().objects.filter(username=username, is_active=True).first()


def board_roles(*, actor) -> dict[int, str]:
    """The actor's role on each board they are a member of; site admins are admins of
    all, so the dict says "admin" for any board id (one query for everyone else)."""
    if actor.is_staff:
        return defaultdict(lambda: Role.ADMIN)
    return dict(BoardMembership.objects.filter(user_id=actor.pk).values_list("board_id", "role"))


def board_people(*, board_id: int):
    """Who a card on the board may be assigned to or filtered by: the board's active
    members, and anyone already assigned a card there (so that a removed member's cards
    still show their assignee). Other users stay unknown to the board's readers."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(board_memberships__board_id=board_id) | Q(assigned_tickets__board_id=board_id))
        .distinct()
        .order_by("username")
    )
