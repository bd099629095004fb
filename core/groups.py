"""The channel-layer groups, the messages sent to them, and sending from synchronous code
(services, commands).

Groups: everyone watching a board; every connection of a user, of a token, of a session.
Names are made here only, so the senders and the listeners cannot drift apart.

`async_to_sync(layer.group_send)` in a plain thread, such as a gunicorn worker's,
starts an event loop for the call, and the Redis layers open a connection for each
loop: about 2.5 ms per event, a large share of a write. Here each process keeps one
event loop in a daemon thread, so the Redis layers keep their connections (0.1 ms).

The in-process layer (SQLite set-ups, tests) keeps its queues on the loop that
serves its consumers, so it is still reached through `async_to_sync`."""

import asyncio
import hashlib
import logging
import os
import threading

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

SEND_TIMEOUT_SECONDS = 5.0

# Message types, as the consumers' handlers are named (dots become underscores).
BOARD_EVENT = "board.event"
ACCESS_CHANGED = "access.changed"
SIGNED_OUT = "session.signed_out"
TOKEN_REVOKED = "token.revoked"

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None


def board_group_name(board_id: int) -> str:
    """Everyone watching one board."""
    return f"board-{board_id}"


def user_group_name(user_id: int) -> str:
    """Every WebSocket connection of one user: told when what the user may read may have
    shrunk (`live.access_push`)."""
    return f"user-{user_id}"


def token_group_name(token_id: int) -> str:
    """Every session authenticated with one token: told when it is revoked."""
    return f"token-{token_id}"


def session_group_name(session_key: str) -> str:
    """The WebSocket connections opened with one session: told when it signs out. Named
    from a hash of the key, because the key is a credential and group names are
    visible in Redis."""
    return f"session-{hashlib.sha256(session_key.encode()).hexdigest()[:32]}"


def announce(group: str, message: dict) -> bool:
    """Send `message` to `group` for a change that is already committed. A failure is
    logged, not raised: the listeners find out at their next check of their own
    (heartbeat, next request), so failing the caller would only lie about the change."""
    try:
        group_send(group, message)
    except Exception:
        logger.warning("Could not announce %s to %s", message.get("type"), group, exc_info=True)
        return False
    return True


def announce_on_commit(group: str, message: dict) -> None:
    """Announce once (and only if) the caller's transaction commits: a listener that asked
    before the commit would still find the old state."""
    transaction.on_commit(lambda: announce(group, message))


def announce_access_changed(user_id: int) -> None:
    """After the commit, tell the user's connections to ask again what they may read."""
    announce_on_commit(user_group_name(user_id), {"type": ACCESS_CHANGED, "user_id": user_id})


def group_send(group: str, message: dict) -> None:
    """Send `message` to `group` and wait until the layer has taken it.
    Raises what the layer raises, or TimeoutError; callers decide whether that matters."""
    layer = get_channel_layer()
    if layer is None:
        return
    if isinstance(layer, InMemoryChannelLayer):
        async_to_sync(layer.group_send)(group, message)
        return
    sending = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), _sender_loop())
    sending.result(SEND_TIMEOUT_SECONDS)


def _sender_loop() -> asyncio.AbstractEventLoop:
    global _loop, _loop_pid
    with _lock:
        # A forked worker inherits the variable but not the thread that ran the loop.
        if _loop is None or _loop_pid != os.getpid():
            _loop = asyncio.new_event_loop()
            _loop_pid = os.getpid()
            threading.Thread(
                target=_loop.run_forever, name="channel-layer-sender", daemon=True
            ).start()
        return _loop
