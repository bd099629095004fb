"""Sending to channel-layer groups from synchronous code (services, commands).

`async_to_sync(layer.group_send)` in a plain thread, such as a gunicorn worker's,
starts an event loop for the call, and the Redis layers open a connection for each
loop: about 2.5 ms per event, a large share of a write. Here each process keeps one
event loop in a daemon thread, so the Redis layers keep their connections (0.1 ms).

The in-process layer (SQLite set-ups, tests) keeps its queues on the loop that
serves its consumers, so it is still reached through `async_to_sync`."""

import asyncio
import os
import threading

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

SEND_TIMEOUT_SECONDS = 5.0

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None


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
