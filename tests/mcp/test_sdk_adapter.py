"""mcp_server/sdk.py against the installed `mcp` SDK. The adapter reads private state of
the SDK's StreamableHTTPSessionManager; these tests fail as soon as the SDK changes the
shape it relies on (an upgrade that renames or retypes it), and check end to end, on a
real manager serving real requests, that ending a session works as revocation needs."""

import asyncio
import contextlib
import inspect
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from mcp.server import MCPServer
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

from mcp_server import sdk
from mcp_server.http import end_token_sessions

WAIT = 10  # seconds, for what must happen at once


def _principal(token_id: int) -> str:
    return f"token-{token_id}"  # as mcp_server/http.py names a token's sessions


def _new_manager() -> StreamableHTTPSessionManager:
    server = MCPServer(name="adapter-test")
    server.streamable_http_app(
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False)
    )
    return server.session_manager


@contextlib.asynccontextmanager
async def running_manager() -> AsyncIterator[StreamableHTTPSessionManager]:
    manager = _new_manager()
    async with manager.run():
        yield manager


@dataclass
class Exchange:
    """One HTTP request served by the manager, as the ASGI server saw it."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    started: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)


async def serve(
    manager: StreamableHTTPSessionManager,
    method: str,
    client_id: str,
    *,
    body: dict | None = None,
    session_id: str | None = None,
    exchange: Exchange | None = None,
) -> Exchange:
    """Send one request to the manager as `client_id` (what MCPHttpApp puts in the
    scope) and return once it has been answered in full."""
    exchange = exchange or Exchange()
    headers = [
        (b"host", b"testserver"),
        (b"accept", b"application/json, text/event-stream"),
        (b"content-type", b"application/json"),
    ]
    if session_id is not None:
        headers.append((b"mcp-session-id", session_id.encode()))
    principal = AccessToken(token=client_id, client_id=client_id, subject="1", scopes=[])
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": "/mcp",
        "raw_path": b"/mcp",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "user": AuthenticatedUser(principal),
    }
    payload = json.dumps(body).encode() if body is not None else b""
    body_sent = False

    async def receive() -> dict:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": payload, "more_body": False}
        await exchange.done.wait()  # the client stays until the answer is complete
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            exchange.status = message["status"]
            exchange.headers = {k.decode(): v.decode() for k, v in message.get("headers", [])}
            exchange.started.set()
        elif message["type"] == "http.response.body":
            exchange.body += message.get("body", b"")
            if not message.get("more_body", False):
                exchange.done.set()

    try:
        await manager.handle_request(scope, receive, send)
    finally:
        exchange.done.set()
    return exchange


async def open_session(manager: StreamableHTTPSessionManager, client_id: str) -> str:
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"},
        },
    }
    opened = await serve(manager, "POST", client_id, body=initialize)
    assert opened.status == 200, opened.body
    session_id = opened.headers["mcp-session-id"]
    done = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    answered = await serve(manager, "POST", client_id, body=done, session_id=session_id)
    assert answered.status == 202, answered.body
    return session_id


async def ping(manager: StreamableHTTPSessionManager, client_id: str, session_id: str) -> int:
    body = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    answer = await serve(manager, "POST", client_id, body=body, session_id=session_id)
    return answer.status


# ---------------------------------------------------------------- the SDK's shape


def test_the_manager_keeps_its_sessions_where_the_adapter_reads_them():
    manager = _new_manager()
    assert isinstance(manager._server_instances, dict)
    assert isinstance(manager._session_owners, dict)


def test_a_transport_ends_through_its_public_terminate():
    terminate = StreamableHTTPServerTransport.terminate
    assert inspect.iscoroutinefunction(terminate)
    assert list(inspect.signature(terminate).parameters) == ["self"]
    assert isinstance(
        inspect.getattr_static(StreamableHTTPServerTransport, "is_terminated"), property
    )


async def test_an_open_session_is_kept_by_id_with_its_transport_and_owner():
    async with running_manager() as manager:
        session_id = await open_session(manager, _principal(1))
        transport = manager._server_instances[session_id]
        assert isinstance(transport, StreamableHTTPServerTransport)
        assert transport.mcp_session_id == session_id
        assert manager._session_owners[session_id]["client_id"] == _principal(1)


# ---------------------------------------------------------------- the adapter, end to end


async def test_sessions_of_lists_the_sessions_of_one_credential_only():
    async with running_manager() as manager:
        first = await open_session(manager, _principal(1))
        second = await open_session(manager, _principal(1))
        other = await open_session(manager, _principal(2))
        assert sorted(sdk.sessions_of(manager, _principal(1))) == sorted([first, second])
        assert sdk.sessions_of(manager, _principal(2)) == [other]
        assert sdk.sessions_of(manager, _principal(3)) == []


async def test_ending_a_tokens_sessions_closes_their_streams_and_their_ids_answer_404():
    async with running_manager() as manager:
        doomed = await open_session(manager, _principal(1))
        kept = await open_session(manager, _principal(2))
        stream = Exchange()
        listening = asyncio.create_task(
            serve(manager, "GET", _principal(1), session_id=doomed, exchange=stream)
        )
        await asyncio.wait_for(stream.started.wait(), WAIT)
        assert stream.status == 200

        assert await end_token_sessions(manager, 1) == 1

        await asyncio.wait_for(listening, WAIT)  # the open event stream ended
        assert await ping(manager, _principal(1), doomed) == 404
        # The SDK itself forgets the ended session (its server task has wound down).
        async with asyncio.timeout(WAIT):
            while doomed in manager._server_instances:
                await asyncio.sleep(0.01)
        assert doomed not in manager._session_owners
        assert sdk.sessions_of(manager, _principal(1)) == []
        assert await ping(manager, _principal(1), doomed) == 404
        # Another token's session is untouched.
        assert sdk.sessions_of(manager, _principal(2)) == [kept]
        assert await ping(manager, _principal(2), kept) == 200


async def test_a_session_is_ended_once_and_an_unknown_one_not_at_all():
    async with running_manager() as manager:
        session_id = await open_session(manager, _principal(1))
        assert await sdk.end_session(manager, session_id) is True
        assert await sdk.end_session(manager, session_id) is False
        assert await sdk.end_session(manager, "no-such-session") is False
        assert await end_token_sessions(manager, 1) == 0
