"""Who may do what on which board: the one place that decides.

A user acts on a board through a role given by a BoardMembership; site admins
(`is_staff`) act as a board admin everywhere. An API token can narrow what its
user may do: to reading only, and to some boards. Authentication puts the token
on the user object (`user.api_token`), so every service and selector that gets an
actor sees the token's limits without being told.

A board the user may not read does not exist as far as they can tell: the checks
raise NotFound, never Forbidden, so its id tells them nothing.
"""

from django.db.models import OuterRef, QuerySet, Subquery

from boards.models import BoardMembership, Role
from core.errors import Forbidden, NotFound
from core.ids import is_id

READ = "read"
WRITE = "write"
ADMIN = "admin"

ROLE_ALLOWS: dict[str, frozenset[str]] = {
    Role.ADMIN: frozenset({READ, WRITE, ADMIN}),
    Role.MEMBER: frozenset({READ, WRITE}),
    Role.AGENT: frozenset({READ, WRITE}),
    Role.VIEWER: frozenset({READ}),
}


def request_token(user):
    """The API token this request authenticated with, or None for a session or command."""
    return getattr(user, "api_token", None)


def token_board_ids(token) -> frozenset[int] | None:
    """The boards a token is limited to, or None when it is not. Read once per token object."""
    if token is None:
        return None
    cached = getattr(token, "_scoped_board_ids", None)
    if cached is None:
        cached = frozenset(token.boards.values_list("pk", flat=True)) if token.pk else frozenset()
        token._scoped_board_ids = cached
    return cached or None


def board_role(user, board_id: int) -> str | None:
    """The user's role on the board (admin for site admins), ignoring token limits.
    Remembered on the user object, so one request asks the database once per board."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if not is_id(board_id):
        return None
    if user.is_staff:
        return Role.ADMIN
    roles = user.__dict__.setdefault("_board_roles", {})
    if board_id not in roles:
        roles[board_id] = (
            BoardMembership.objects.filter(board_id=board_id, user_id=user.pk)
            .values_list("role", flat=True)
            .first()
        )
    return roles[board_id]


def forget_roles(user) -> None:
    """Drop the roles remembered on `user` (after its membership changed)."""
    if user is not None:
        user.__dict__.pop("_board_roles", None)


def may_create_boards(user) -> bool:
    """Any signed-in user may create a board (and becomes its admin); a read-only token
    may not, nor may a token limited to some boards (it could not reach the new one)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    token = request_token(user)
    return token is None or (not token.read_only and token_board_ids(token) is None)


def can(user, board_id: int, need: str = READ) -> bool:
    role = board_role(user, board_id)
    if role is None or need not in ROLE_ALLOWS[role]:
        return False
    token = request_token(user)
    if token is not None:
        if need != READ and token.read_only:
            return False
        scoped = token_board_ids(token)
        if scoped is not None and board_id not in scoped:
            return False
    return True


def require_board(user, board_id: int, need: str = READ) -> None:
    """Raise unless `user` may `need` on the board: NotFound when they may not even read
    it (or it does not exist), Forbidden when they may read but not do this."""
    if not can(user, board_id, READ):
        raise NotFound(f"Board {board_id} does not exist.")
    if need == READ or can(user, board_id, need):
        return
    token = request_token(user)
    if token is not None and token.read_only:
        raise Forbidden("This token is read-only.", code="token_read_only")
    if need == ADMIN:
        raise Forbidden("Only a board admin may do this.", code="board_admin_required")
    raise Forbidden("Your role on this board may only read.", code="board_read_only")


def readable_ticket(user, tickets: QuerySet, ticket_id: int):
    """The ticket of `tickets` with id `ticket_id` when `user` may read its board, else
    NotFound worded as for a missing one. The user's role comes in the ticket's own query."""
    ticket = None
    if is_id(ticket_id):
        tickets = tickets.filter(pk=ticket_id).order_by()
        if _may_have_role(user) and not user.is_staff:
            role = BoardMembership.objects.filter(board_id=OuterRef("board_id"), user_id=user.pk)
            tickets = tickets.annotate(viewer_role=Subquery(role.values("role")[:1]))
        ticket = next(iter(tickets), None)
    if ticket is not None and hasattr(ticket, "viewer_role"):
        user.__dict__.setdefault("_board_roles", {})[ticket.board_id] = ticket.viewer_role
    if ticket is None or not can(user, ticket.board_id, READ):
        raise NotFound(f"Ticket {ticket_id} does not exist.")
    return ticket


def board_id_of(user, rows: QuerySet) -> int | None:
    """The board id of the first row of `rows` (any model with a `board_id`); the user's
    role there comes in the same query and is remembered as board_role would, so the
    check that follows asks nothing more."""
    if not _may_have_role(user) or user.is_staff:
        return rows.values_list("board_id", flat=True).first()
    role = BoardMembership.objects.filter(board_id=OuterRef("board_id"), user_id=user.pk)
    row = rows.annotate(role=Subquery(role.values("role")[:1])).values_list("board_id", "role")
    found = row.first()
    if found is None:
        return None
    board_id, role_name = found
    user.__dict__.setdefault("_board_roles", {})[board_id] = role_name
    return board_id


def _may_have_role(user) -> bool:
    return user is not None and user.is_authenticated and user.is_active


def readable_boards(queryset: QuerySet, user, *, field: str = "pk") -> QuerySet:
    """`queryset` narrowed to rows whose board (`field` names its id) the user may read."""
    if user is None or not user.is_authenticated or not user.is_active:
        return queryset.none()
    if not user.is_staff:
        member_of = BoardMembership.objects.filter(user_id=user.pk).values("board_id")
        queryset = queryset.filter(**{f"{field}__in": member_of})
    scoped = token_board_ids(request_token(user))
    if scoped is not None:
        queryset = queryset.filter(**{f"{field}__in": scoped})
    return queryset
