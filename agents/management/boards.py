"""The `--board` and `--role` options of create_agent and create_token: the operator
makes the user a member of boards as they go, so that a new agent is not left seeing
no board at all. Membership goes through the board services as the operator (actor
None), audited like every membership change."""

from argparse import ArgumentParser
from collections.abc import Iterable

from agents.models import User
from boards.models import Board, BoardMembership, Role
from boards.selectors import board_for_operator
from boards.services import membership_set

DEFAULT_ROLE = Role.AGENT


def add_board_arguments(parser: ArgumentParser, *, board_help: str) -> None:
    parser.add_argument(
        "--board",
        action="append",
        dest="boards",
        default=[],
        metavar="ID_OR_NAME",
        help=f"{board_help} Repeat it for several boards.",
    )
    parser.add_argument(
        "--role",
        choices=Role.values,
        default=None,
        help=f"The role on those boards (default {DEFAULT_ROLE}; a member already keeps "
        "theirs unless this is given).",
    )


def boards_named(names: Iterable[str]) -> list[Board]:
    """The boards given by id or name, each once, in the order given."""
    found: dict[int, Board] = {}
    for name in names:
        board = board_for_operator(id_or_name=name)
        found.setdefault(board.pk, board)
    return list(found.values())


def join_boards(*, user: User, boards: list[Board], role: str | None) -> list[str]:
    """Make `user` a member of each of `boards` with `role`; one who is a member already
    keeps their role unless `role` is given. Says what it did, a line a board."""
    held = dict(
        BoardMembership.objects.filter(user=user, board__in=boards).values_list("board_id", "role")
    )
    said = []
    for board in boards:
        wanted = role or held.get(board.pk) or DEFAULT_ROLE
        if held.get(board.pk) == wanted:
            said.append(f"{user.username} stays {wanted} of board {board.name!r} (id {board.pk}).")
            continue
        membership_set(actor=None, board_id=board.pk, user_id=user.pk, role=wanted)
        said.append(f"{user.username} is now {wanted} of board {board.name!r} (id {board.pk}).")
    return said
