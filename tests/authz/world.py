"""One board seen by every kind of caller, and what each of them may do with it.

Needs, weakest first: NONE (not about a board), LIST (everyone may ask; only readable
boards are in the answer), CREATE (any signed-in identity but a read-only or board-limited token),
READ, WRITE, ADMIN. A caller who may not read the board gets 404, exactly as for a board
that does not exist; one who may read it but not do this gets 403."""

from dataclasses import dataclass, field

from agents.models import User
from agents.services import token_issue
from boards.models import Board
from comments.services import comment_create
from tests.factories import add_member, make_agent, make_board, make_ticket, make_user
from tickets.models import Ticket

NONE, LIST, CREATE, READ, WRITE, ADMIN = "none", "list", "create", "read", "write", "admin"

# Who acts: a session user, or (the last two, and agents) a bearer token.
ROLES = [
    "site_admin",
    "board_admin",
    "member",
    "agent",
    "viewer",
    "non_member",
    "read_only_token",  # a member's token that may only read
    "other_board_token",  # a member's token limited to another board
]
TOKEN_ROLES = {"agent", "read_only_token", "other_board_token"}
READERS = {"site_admin", "board_admin", "member", "agent", "viewer", "read_only_token"}
WRITERS = {"site_admin", "board_admin", "member", "agent"}
ADMINS = {"site_admin", "board_admin"}
BOARD_NAME = "Secret board"
TICKET_TITLE = "Secret ticket"


def expected(need: str, role: str) -> int | str:
    """ "allow", or the status that refuses."""
    if need in (NONE, LIST):
        return "allow"
    if need == CREATE:
        return 403 if role in ("read_only_token", "other_board_token") else "allow"
    allowed = {READ: READERS, WRITE: WRITERS, ADMIN: ADMINS}[need]
    if role in allowed:
        return "allow"
    return 403 if role in READERS else 404


def outcome(status: int) -> int | str:
    """A refusal by the access rules (403, 404) or anything else: a success, a redirect
    or a domain answer such as 409 (claimed, not claimed) that only a caller allowed to
    try can get."""
    return status if status in (401, 403, 404) else "allow"


@dataclass
class World:
    board: Board
    other: Board
    ticket: Ticket
    blocker: Ticket
    users: dict[str, User] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    extra: User | None = None  # a viewer whose role the admins change or remove

    def user(self, role: str) -> User:
        return self.users[role]


def build_world(*, tokens_for_everyone: bool = False) -> World:
    owner = make_user("owner")
    board = make_board(owner, BOARD_NAME)
    other = make_board(owner, "Other board", columns=["Only"])
    member, viewer = make_user("member"), make_user("viewer")
    agent, agent_secret = make_agent("agent")
    add_member(board, member, "member")
    add_member(board, agent, "agent")
    add_member(board, viewer, "viewer")
    add_member(other, member, "member")
    extra = make_user("extra")
    add_member(board, extra, "viewer")
    make_user("newcomer")
    ticket = make_ticket(owner, board, TICKET_TITLE, description="needle")
    blocker = make_ticket(owner, board, "Blocker")
    comment_create(actor=owner, ticket_id=ticket.pk, text="A comment")
    users = {
        "site_admin": make_user("site-admin", is_staff=True),
        "board_admin": owner,
        "member": member,
        "agent": agent,
        "viewer": viewer,
        "non_member": make_user("stranger"),
        "read_only_token": member,
        "other_board_token": member,
    }
    secrets = {
        "agent": agent_secret,
        "read_only_token": token_issue(
            actor=None, user=member, name="read only", read_only=True
        ).secret,
        "other_board_token": token_issue(
            actor=None, user=member, name="elsewhere", board_ids=[other.pk]
        ).secret,
    }
    if tokens_for_everyone:
        for role in set(ROLES) - set(secrets):
            secrets[role] = token_issue(actor=None, user=users[role], name=f"{role} mcp").secret
    return World(board, other, ticket, blocker, users, secrets, extra)
