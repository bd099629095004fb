"""The MCP server over streamable HTTP at /mcp, authenticated by an agent's bearer token.

Stateless: no MCP session lives in a process, so any daphne instance answers any request
and nginx spreads /mcp like the other long-lived connections. Clients of the 2026-07-28
revision need no session anyway; clients of the older handshake are served each request
on its own.

The SDK's session manager must be running (`session_manager.run()`) before it serves a
request, and it is normally started by the ASGI lifespan protocol, which daphne does not
speak. So the first request starts it: a long-lived task enters `run()` and stays there
for the life of the event loop.

Revoking a token ends its open requests at once (a `subscriptions/listen` stream is one
long request): each process joins the channel-layer group of every token it serves, and
on the revocation message cancels that token's requests in flight. Every request and
every tool call also checks the token again, so a revoked token is refused even before
that message."""

import asyncio
import contextvars
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import anyio
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

from agents.authentication import user_for_token
from core import groups
from core.errors import error_body
from core.http import bearer_secret, scope_header
from mcp_server.feed import loop_feed
from mcp_server.identity import acting_with
from mcp_server.server import build_server
from mcp_server.threads import on_mcp_threads

logger = logging.getLogger(__name__)

MCP_PATHS = ("/mcp", "/mcp/")


@dataclass
class _Running:
    loop: asyncio.AbstractEventLoop
    manager: StreamableHTTPSessionManager
    task: asyncio.Task
    stop_listening: Callable[[], None] | None = None
    # token id -> the cancel scopes of its requests in flight here
    in_flight: dict[int, set[anyio.CancelScope]] = field(default_factory=dict)

    @contextmanager
    def serving(self, token_id: int) -> Iterator[None]:
        """Run the enclosed request so that `end_requests(token_id)` can cut it."""
        with anyio.CancelScope() as cancel:
            scopes = self.in_flight.setdefault(token_id, set())
            scopes.add(cancel)
            try:
                yield
            finally:
                scopes.discard(cancel)
                if not scopes:
                    self.in_flight.pop(token_id, None)

    def end_requests(self, token_id: int) -> int:
        """Cut every request of the token in flight in this process; how many there were."""
        scopes = list(self.in_flight.get(token_id, ()))
        for cancel in scopes:
            cancel.cancel()
        return len(scopes)


class _Response:
    """Sends the ASGI messages of one response, and can finish one that was cut off."""

    def __init__(self, send) -> None:
        self._send = send
        self.started = self.finished = False

    async def __call__(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            self.finished = True
        await self._send(message)

    async def finish(self) -> None:
        """End a response whose stream was cut: the client sees it close, not hang."""
        if self.started and not self.finished:
            with anyio.CancelScope(shield=True):
                await self._send({"type": "http.response.body", "body": b"", "more_body": False})


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


# Not thread-sensitive: the requests of different agents must not queue for one thread.
_authenticate = on_mcp_threads(user_for_token)


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
        running = self._running
        # Told here when the token is revoked (`_on_revoked`).
        await loop_feed().keep(groups.token_group_name(token.pk))
        response = _Response(send)
        with acting_with(secret, user), running.serving(token.pk):
            await manager.handle_request(scope, receive, response)
        await response.finish()

    @staticmethod
    async def _unauthorized(send, code: str, message: str) -> None:
        headers = [(b"www-authenticate", b'Bearer realm="mcp"')]
        await _send_json(send, 401, error_body(message, code), headers)

    async def session_manager(self) -> StreamableHTTPSessionManager:
        """The running session manager of this event loop, started on first use."""
        loop = asyncio.get_running_loop()
        if self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        async with self._lock:
            running = self._running
            if running is None or running.loop is not loop or running.task.done():
                if running is not None and running.loop is loop and running.stop_listening:
                    running.stop_listening()
                self._running = running = await self._start(loop)
        return running.manager

    @staticmethod
    async def _start(loop: asyncio.AbstractEventLoop) -> _Running:
        server = build_server()
        server.streamable_http_app(
            stateless_http=True,
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
        feed = loop_feed()

        def revoked(message: dict) -> None:
            token_id = message.get("token_id")
            feed.forget(groups.token_group_name(token_id))
            ended = running.end_requests(token_id)
            logger.info("Token %s revoked: cut %d MCP request(s) in flight", token_id, ended)

        running.stop_listening = feed.on(groups.TOKEN_REVOKED, revoked)
        return running


mcp_http_app = MCPHttpApp()


def mount_mcp(app):
    """`app` with the MCP server answering at /mcp."""

    async def router(scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] in MCP_PATHS:
            await mcp_http_app(scope, receive, send)
        else:
            await app(scope, receive, send)

    return router
