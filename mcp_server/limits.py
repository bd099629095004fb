"""Rate limits on the MCP server at /mcp, which daphne serves outside Django's middleware.

Every request counts against the per-address limit, and each call of a tool that writes
counts against the caller's `write` limit, shared with the REST API. Over a limit, the
HTTP request is answered 429 in the error envelope with Retry-After."""

import json

from django.conf import settings

from agents.ratelimits import identity_key
from core import ratelimits
from core.errors import error_body
from core.http import UNKNOWN_ADDRESS, bearer_secret, scope_header, scope_ip
from mcp_server.http import MCP_PATHS
from mcp_server.threads import on_mcp_threads
from mcp_server.tools import WRITE_TOOLS

WRITE_TOOL_NAMES = frozenset(tool.__name__ for tool in WRITE_TOOLS)


def write_calls(body: bytes) -> int:
    """How many JSON-RPC requests in the body call a tool that writes."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return 0  # the MCP server answers a malformed body itself
    messages = payload if isinstance(payload, list) else [payload]
    count = 0
    for message in messages:
        if isinstance(message, dict) and message.get("method") == "tools/call":
            params = message.get("params")
            if isinstance(params, dict) and params.get("name") in WRITE_TOOL_NAMES:
                count += 1
    return count


def _mcp_checks(scope, body: bytes):
    ip = scope_ip(scope) or UNKNOWN_ADDRESS
    yield "ip", f"ip:{ip}", settings.RATELIMIT_PER_IP
    calls = write_calls(body) if body else 0
    if calls:
        secret = bearer_secret(scope_header(scope, b"authorization"))
        identity = identity_key(secret, None, ip)
        for _ in range(calls):
            yield "write", identity, settings.RATELIMIT_WRITE


def _first_limited(scope, body: bytes) -> ratelimits.Limited | None:
    return ratelimits.first_limited(_mcp_checks(scope, body))


# Not thread-sensitive: every request of every agent passes here, and with one shared
# thread they would queue behind each other's cache round trips.
_check_mcp = on_mcp_threads(_first_limited)


async def _read_body(receive, limit: int) -> tuple[list[dict], bytes]:
    """The messages read and the request's body, read up to `limit` bytes. A longer
    body is left unread and unparsed: the MCP server refuses it itself."""
    messages, size = [], 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, b""
        size += len(message.get("body", b""))
        if size > limit:
            return messages, b""
        if not message.get("more_body", False):
            return messages, b"".join(item.get("body", b"") for item in messages)


def _replay(messages: list[dict], receive):
    pending = list(messages)

    async def replayed():
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


class McpRateLimit:
    """ASGI middleware in front of the HTTP app: acts on /mcp only (Django's own
    middleware limits everything else)."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] not in MCP_PATHS:
            await self.inner(scope, receive, send)
            return
        if not settings.RATELIMIT_ENABLE:
            await self.inner(scope, receive, send)
            return
        body = b""
        if scope.get("method") == "POST":
            messages, body = await _read_body(receive, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
            receive = _replay(messages, receive)
        limited = await _check_mcp(scope, body)
        if limited is not None:
            await _send_too_many(send, limited)
            return
        await self.inner(scope, receive, send)


async def _send_too_many(send, limited: ratelimits.Limited) -> None:
    body = json.dumps(
        error_body(limited.message, "rate_limited", retry_after=limited.retry_after)
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(limited.retry_after).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
