"""The one place that reads the `mcp` SDK's private state (written against mcp 2.3.0).

The SDK's StreamableHTTPSessionManager has no public way to list its sessions or to end
one from the server side: it keeps them in two private dicts, `_server_instances`
(session ID -> transport) and `_session_owners` (session ID -> the AuthorizationContext
of the credential that opened it). Only the look-ups here touch those; ending a session
then goes through the transport's public, documented `terminate()` — what the SDK does
itself when a client DELETEs its session. From that moment the session's ID answers 404,
its open streams close, its server task ends and the manager forgets it.

tests/mcp/test_sdk_adapter.py fails when the SDK changes the shape this relies on."""

import anyio
from mcp.server.auth.middleware.bearer_auth import AuthorizationContext
from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager


def _transports(manager: StreamableHTTPSessionManager) -> dict[str, StreamableHTTPServerTransport]:
    return manager._server_instances


def _owners(manager: StreamableHTTPSessionManager) -> dict[str, AuthorizationContext]:
    return manager._session_owners


def sessions_of(manager: StreamableHTTPSessionManager, client_id: str) -> list[str]:
    """The IDs of the sessions the manager holds that were opened by the credential
    with this `client_id` (AccessToken.client_id)."""
    transports = _transports(manager)
    return [
        session_id
        for session_id, owner in list(_owners(manager).items())
        if owner.get("client_id") == client_id and session_id in transports
    ]


async def end_session(manager: StreamableHTTPSessionManager, session_id: str) -> bool:
    """End the session now: its ID answers 404 from here on, its open event streams
    close and the SDK then discards it. False when the manager holds no such session
    or it was already ended."""
    transport = _transports(manager).get(session_id)
    if transport is None or transport.is_terminated:
        return False
    # As the SDK's own discard: finish closing the streams even if we are cancelled.
    with anyio.CancelScope(shield=True):
        await transport.terminate()
    return True
