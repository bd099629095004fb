"""Who an MCP tool acts as. The HTTP transport sets the bearer token of each request,
the stdio command the token of AGENT_KANBAN_TOKEN; a context variable carries it to the
tool, so concurrent requests of different agents never see each other's identity."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from agents.authentication import user_for_token
from agents.models import User
from core.errors import Forbidden


@dataclass
class _Acting:
    secret: str
    # The user the transport authenticated for this request, handed to its first look
    # only: a request's one tool call then reads the token once, not twice.
    checked: User | None = None


_acting: ContextVar[_Acting | None] = ContextVar("agent_kanban_mcp_acting", default=None)


@contextmanager
def acting_with(secret: str, checked: User | None = None) -> Iterator[None]:
    """Run the enclosed code (and the tasks it starts) as the owner of `secret`.
    `checked`: its user, just authenticated by the caller for this one request."""
    reset = _acting.set(_Acting(secret, checked))
    try:
        yield
    finally:
        _acting.reset(reset)


def current_actor() -> User:
    """The user behind the current token, checked again on every call so that a revoked
    or expired token or a deactivated agent stops working at once, even in a long stdio
    session or a long wait (the first look of an HTTP request takes the check the
    transport made for that request a moment before). The user is fresh for each call
    and carries the token (`api_token`), so the token's read-only and board limits apply
    to the tool."""
    acting = _acting.get()
    if acting is None:
        user = None
    else:
        user, acting.checked = acting.checked, None
        if user is None:
            user, _ = user_for_token(acting.secret)
    if user is None:
        raise Forbidden("The token is unknown, revoked or expired.", code="not_authenticated")
    return user
