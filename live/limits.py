"""Rate limits on WebSocket connects, which daphne serves outside Django's middleware.
Same counters, same cache, same settings as the HTTP limits (`core.ratelimits`).

A WebSocket over its limit is accepted and then closed with 4429 (`CLOSE_RATE_LIMITED`,
from the one list of close codes in `live.consumers`) after one
`{"type": "error", "code": "rate_limited", "retry_after": N}` message: a handshake
refused before accept reaches a browser as 1006 with no reason at all.
"""

import json

from channels.db import database_sync_to_async
from django.conf import settings

from core import ratelimits
from core.http import UNKNOWN_ADDRESS, scope_ip
from live.consumers import CLOSE_RATE_LIMITED


def _websocket_checks(scope):
    ip = scope_ip(scope) or UNKNOWN_ADDRESS
    yield "ip", f"ip:{ip}", settings.RATELIMIT_PER_IP
    user = scope.get("user")
    key = f"user:{user.pk}" if user is not None and user.is_authenticated else f"ip:{ip}"
    yield "ws", key, settings.RATELIMIT_WS_CONNECT


@database_sync_to_async
def _check_websocket(scope) -> ratelimits.Limited | None:
    return ratelimits.first_limited(_websocket_checks(scope))


class WebSocketConnectLimit:
    """ASGI middleware for the WebSocket router; goes inside the auth stack, so the
    scope's user is known."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "websocket" and settings.RATELIMIT_ENABLE:
            limited = await _check_websocket(scope)
            if limited is not None:
                await _refuse_websocket(limited, receive, send)
                return
        await self.inner(scope, receive, send)


async def _refuse_websocket(limited: ratelimits.Limited, receive, send) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    error = {
        "type": "error",
        "code": "rate_limited",
        "message": limited.message,
        "retry_after": limited.retry_after,
    }
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": json.dumps(error)})
    await send({"type": "websocket.close", "code": CLOSE_RATE_LIMITED})
