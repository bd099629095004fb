"""Who an MCP tool acts as. The HTTP transport sets the bearer token of each request,
the stdio command the token of AGENT_KANBAN_TOKEN; a context variable carries it to the
tool, so concurrent requests of different agents never see each other's identity."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from agents.authentication import user_for_token
from agents.models import User
from core.errors import Forbidden

_token: ContextVar[str | None] = ContextVar("agent_kanban_mcp_token", default=None)


@contextmanager
def acting_with(secret: str) -> Iterator[None]:
    """Run the enclosed code (and the tasks it starts) as the owner of `secret`."""
    reset = _token.set(secret)
    try:
        yield
    finally:
        _token.reset(reset)


def current_actor() -> User:
    """The user behind the current token, checked again on every call so that a revoked
    or expired token or a deactivated agent stops working at once, even in a long stdio
    session. The user is fresh for each call and carries the token (`api_token`), so
    the token's read-only and board limits apply to the tool."""
    secret = _token.get()
    user, _ = user_for_token(secret) if secret else (None, None)
    if user is None:
        raise Forbidden("The token is unknown, revoked or expired.", code="not_authenticated")
    return user
