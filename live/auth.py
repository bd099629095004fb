"""Who is on the other end of a WebSocket: the session cookie (browsers), or a bearer
token in the `Authorization` header (agents, scripts) or in the `token` query
parameter (browsers cannot set headers on a WebSocket)."""

from urllib.parse import parse_qs, urlparse

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth.models import AnonymousUser

from agents.authentication import user_for_token
from core.http import bearer_secret, scope_header


def token_from_scope(scope) -> str | None:
    """The bearer token the client sent, if any ('' for a malformed one). Any
    Authorization header decides, so one of another scheme counts as a bad token."""
    authorization = scope_header(scope, b"authorization")
    if authorization is not None:
        return bearer_secret(authorization) or ""
    values = parse_qs(scope.get("query_string", b"").decode("latin1")).get("token")
    return values[-1] if values else None


def session_allowed(scope) -> bool:
    """Browsers send the session cookie on a WebSocket opened by any page, so the
    session counts only when the page's Origin is one of ours (or when there is no
    Origin: not a browser). A token is never sent by itself, so it needs no check."""
    origin = scope_header(scope, b"origin")
    if origin is None:
        return True
    return AllowedHostsOriginValidator(None).valid_origin(urlparse(origin))


@database_sync_to_async
def _user_for_secret(secret: str):
    user, _ = user_for_token(secret) if secret else (None, None)
    return user or AnonymousUser()


class TokenAuthMiddleware(BaseMiddleware):
    """A token, when present, decides the identity: an unknown, revoked or expired one
    leaves the connection anonymous (so it is refused), whatever the session says."""

    async def __call__(self, scope, receive, send):
        secret = token_from_scope(scope)
        if secret is not None:
            scope = dict(scope, user=await _user_for_secret(secret))
        elif not session_allowed(scope):
            scope = dict(scope, user=AnonymousUser())
        return await super().__call__(scope, receive, send)


def WebSocketAuthStack(inner):
    """Session (cookie) first, then a token over it; named like Channels' own stack."""
    return AuthMiddlewareStack(TokenAuthMiddleware(inner))
