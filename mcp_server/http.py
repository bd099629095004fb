"""The MCP server over streamable HTTP at /mcp, authenticated by an agent's bearer token.

The SDK's session manager must be running (`session_manager.run()`) before it serves a
request, and it is normally started by the ASGI lifespan protocol, which daphne does not
speak. So the first request starts it: a long-lived task enters `run()` and stays there
for the life of the event loop.

Revoking a token ends its sessions at once: each process joins the channel-layer group
of every token that opened a session here, and on the revocation message ends those
sessions (their IDs then answer 404), through mcp_server/sdk.py, the one module that
reaches into the SDK's private state. Every request and every tool call also checks
the token again, so a revoked token is refused even before that message."""

import asyncio
import contextvars
import json
import logging
import time
from dataclasses import dataclass, field

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

from agents.authentication import user_for_token
from core import groups
from core.errors import error_body
from core.http import bearer_secret, scope_header
from mcp_server import sdk
from mcp_server.identity import acting_with
from mcp_server.server import build_server

logger = logging.getLogger(__name__)

MCP_PATHS = ("/mcp", "/mcp/")
# Redis forgets group members after a day; joining again this often keeps them.
GROUP_RENEW_SECONDS = 3600


@dataclass
class _Running:
    loop: asyncio.AbstractEventLoop
    manager: StreamableHTTPSessionManager
    task: asyncio.Task
    channel: str | None = None
    listener: asyncio.Task | None = None
    joined: dict[int, float] = field(default_factory=dict)  # token id -> when joined


def _principal_id(token_id: int) -> str:
    return f"token-{token_id}"


async def end_token_sessions(manager: StreamableHTTPSessionManager, token_id: int) -> int:
    """End every session opened with the token; returns how many there were."""
    ended = 0
    for session_id in sdk.sessions_of(manager, _principal_id(token_id)):
        ended += await sdk.end_session(manager, session_id)
    return ended


async def _send_json(send, status: int, body: dict, headers: list | None = None) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _allowed_hosts() -> list[str]:
    # As Django's HttpRequest.get_host: in DEBUG an empty ALLOWED_HOSTS means localhost.
    if not settings.ALLOWED_HOSTS and settings.DEBUG:
        return [".localhost", "127.0.0.1", "[::1]"]
    return settings.ALLOWED_HOSTS


@database_sync_to_async
def _authenticate(secret: str):
    return user_for_token(secret)


class MCPHttpApp:
    """ASGI app: checks the Host like Django does and the bearer token, then hands the
    request to the SDK's session manager with the token's identity in context."""

    def __init__(self) -> None:
        self._running: _Running | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope, receive, send) -> None:
        host, _ = split_domain_port(scope_header(scope, b"host") or "")
        if not validate_host(host, _allowed_hosts()):
            await _send_json(send, 400, error_body("Invalid Host header.", "bad_request"))
            return
        secret = bearer_secret(scope_header(scope, b"authorization"))
        if not secret:
            await self._unauthorized(
                send, "not_authenticated", "Send 'Authorization: Bearer <token>'."
            )
            return
        user, token = await _authenticate(secret)
        if user is None:
            await self._unauthorized(
                send, "authentication_failed", "The token is unknown, revoked or expired."
            )
            return
        manager = await self.session_manager()
        await self._watch_token(token.pk)
        # The SDK binds each MCP session to the credential that opened it.
        principal = AccessToken(
            token=_principal_id(token.pk),
            client_id=_principal_id(token.pk),
            subject=str(user.pk),
            scopes=[],
        )
        scope = {**scope, "user": AuthenticatedUser(principal)}
        with acting_with(secret):
            await manager.handle_request(scope, receive, send)

    @staticmethod
    async def _unauthorized(send, code: str, message: str) -> None:
        headers = [(b"www-authenticate", b'Bearer realm="mcp"')]
        await _send_json(send, 401, error_body(message, code), headers)

    async def _watch_token(self, token_id: int) -> None:
        """Join the token's group with this process's channel (once an hour at most)."""
        running = self._running
        if running is None or running.channel is None:
            return
        now = time.monotonic()
        if now - running.joined.get(token_id, -GROUP_RENEW_SECONDS) < GROUP_RENEW_SECONDS:
            return
        try:
            await get_channel_layer().group_add(groups.token_group_name(token_id), running.channel)
            running.joined[token_id] = now
        except Exception:
            logger.warning("MCP could not watch token %s for revocation", token_id, exc_info=True)

    async def session_manager(self) -> StreamableHTTPSessionManager:
        """The running session manager of this event loop, started on first use."""
        loop = asyncio.get_running_loop()
        if self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        async with self._lock:
            running = self._running
            if running is None or running.loop is not loop or running.task.done():
                if running is not None and running.loop is loop and running.listener:
                    running.listener.cancel()
                self._running = running = await self._start(loop)
        return running.manager

    @staticmethod
    async def _start(loop: asyncio.AbstractEventLoop) -> _Running:
        server = build_server()
        server.streamable_http_app(
            max_request_body_size=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
            # The Host is checked above against ALLOWED_HOSTS, as for every Django page.
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        manager = server.session_manager
        started = asyncio.Event()

        async def run_forever() -> None:
            async with manager.run():
                started.set()
                await asyncio.Event().wait()

        # A fresh context: the manager's tasks must not inherit the first caller's identity.
        task = loop.create_task(run_forever(), context=contextvars.Context())
        waiter = loop.create_task(started.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            waiter.cancel()
            task.result()  # raises why the manager could not start
        running = _Running(loop=loop, manager=manager, task=task)
        layer = get_channel_layer()
        if layer is not None:
            # The default prefix: channels_redis reads every process-local channel through
            # one shared receive, and a channel of another prefix would hold it forever.
            running.channel = await layer.new_channel()
            listener = _listen_for_revocations(layer, running)
            running.listener = loop.create_task(listener, context=contextvars.Context())
        return running


async def _listen_for_revocations(layer, running: _Running) -> None:
    while not running.task.done():
        try:
            message = await layer.receive(running.channel)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("MCP revocation listener failed; retrying", exc_info=True)
            await asyncio.sleep(1)
            continue
        if message.get("type") != groups.TOKEN_REVOKED:
            continue
        token_id = message.get("token_id")
        running.joined.pop(token_id, None)
        try:
            ended = await end_token_sessions(running.manager, token_id)
        except Exception:
            # Their next request is refused anyway: each one checks the token.
            logger.warning("Could not end the MCP sessions of token %s", token_id, exc_info=True)
            continue
        logger.info("Token %s revoked: ended %d MCP session(s)", token_id, ended)


mcp_http_app = MCPHttpApp()


def mount_mcp(app):
    """`app` with the MCP server answering at /mcp."""

    async def router(scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] in MCP_PATHS:
            await mcp_http_app(scope, receive, send)
        else:
            await app(scope, receive, send)

    return router
