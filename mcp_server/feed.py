"""What this process's MCP server hears on the channel layer: the board events every
process publishes after commit (`boards.events`), a user's access changing, a token's
revocation. One channel per event loop receives them all; groups are joined while
someone here needs them (a listen stream, a `wait_for_work`) or, for tokens, once an
hour while the token is in use.

The Redis layer carries what another daphne, a gunicorn worker, a stdio agent or a
command wrote; the in-memory layer of the embedded shape, what this process wrote.
Delivery is at most once, as for the WebSocket: what a dropped message would have said,
a reader finds in the event log or the next read."""

import asyncio
import contextvars
import logging
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from weakref import WeakKeyDictionary

from channels.layers import get_channel_layer

from core import groups

logger = logging.getLogger(__name__)

# Redis forgets group members after a day; joining again this often keeps them.
GROUP_RENEW_SECONDS = 3600

Handler = Callable[[dict], None]


class Feed:
    """The channel of one event loop, the groups it is in, and who wants its messages."""

    def __init__(self, layer) -> None:
        self._layer = layer
        self._channel: str | None = None
        self._receiver: asyncio.Task | None = None
        self._start_lock = asyncio.Lock()
        self._needed: Counter[str] = Counter()
        self._kept: dict[str, float] = {}  # group -> when joined, for groups kept on
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._board_wakers: dict[int, list[Callable[[], None]]] = defaultdict(list)
        self.on(groups.BOARD_EVENT, self._wake_board)

    def on(self, message_type: str, handler: Handler) -> Callable[[], None]:
        """Call `handler` (synchronous, on this loop) with every message of the type;
        returns the function that stops it."""
        self._handlers[message_type].append(handler)

        def stop() -> None:
            if handler in self._handlers[message_type]:
                self._handlers[message_type].remove(handler)

        return stop

    def on_board(self, board_id: int, wake: Callable[[], None]) -> Callable[[], None]:
        """Call `wake()` on every event of the board this loop hears (while in the
        board's group: see `needing`); returns the function that stops it."""
        self._board_wakers[board_id].append(wake)

        def stop() -> None:
            wakers = self._board_wakers.get(board_id, [])
            if wake in wakers:
                wakers.remove(wake)
            if not wakers:
                self._board_wakers.pop(board_id, None)

        return stop

    def _wake_board(self, message: dict) -> None:
        board_id = (message.get("message") or {}).get("board_id")
        for wake in list(self._board_wakers.get(board_id, ())):
            wake()

    @asynccontextmanager
    async def needing(self, groups: Iterable[str]) -> AsyncIterator[None]:
        """Be in `groups` while the enclosed code runs (counted: the last to leave
        a group takes the channel out of it)."""
        wanted = sorted(set(groups))
        for group in wanted:
            self._needed[group] += 1
            if self._needed[group] == 1 and group not in self._kept:
                await self._join(group)
        try:
            yield
        finally:
            for group in wanted:
                self._needed[group] -= 1
                if self._needed[group] <= 0:
                    del self._needed[group]
                    if group not in self._kept:
                        await self._leave(group)

    async def keep(self, group: str) -> None:
        """Be in `group` from now on (joined again once an hour at most)."""
        now = time.monotonic()
        if now - self._kept.get(group, -GROUP_RENEW_SECONDS) < GROUP_RENEW_SECONDS:
            return
        if await self._join(group):
            self._kept[group] = now

    def forget(self, group: str) -> None:
        """A kept group that is over (a revoked token): joined again if it is kept again."""
        self._kept.pop(group, None)

    async def _join(self, group: str) -> bool:
        if self._layer is None:
            return False
        try:
            await self._layer.group_add(group, await self._own_channel())
        except Exception:
            logger.warning("MCP could not join the channel-layer group %s", group, exc_info=True)
            return False
        return True

    async def _leave(self, group: str) -> None:
        if self._layer is None or self._channel is None:
            return
        try:
            await self._layer.group_discard(group, self._channel)
        except Exception:
            logger.warning("MCP could not leave the channel-layer group %s", group, exc_info=True)

    async def _own_channel(self) -> str:
        async with self._start_lock:
            if self._channel is None:
                # The default prefix: channels_redis reads every process-local channel
                # through one shared receive, and a channel of another prefix would hold
                # it forever.
                self._channel = await self._layer.new_channel()
            if self._receiver is None or self._receiver.done():
                # A fresh context: the receiver must not inherit the first caller's identity.
                self._receiver = asyncio.get_running_loop().create_task(
                    self._receive(), context=contextvars.Context()
                )
            return self._channel

    async def _receive(self) -> None:
        while True:
            try:
                message = await self._layer.receive(self._channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("MCP channel-layer receive failed; retrying", exc_info=True)
                await asyncio.sleep(1)
                continue
            for handler in list(self._handlers.get(message.get("type"), ())):
                try:
                    handler(message)
                except Exception:
                    logger.exception("MCP handler of %s failed", message.get("type"))


_feeds: "WeakKeyDictionary[asyncio.AbstractEventLoop, Feed]" = WeakKeyDictionary()


def loop_feed() -> Feed:
    """The feed of the running event loop (daphne has one; a stdio server, its own)."""
    loop = asyncio.get_running_loop()
    feed = _feeds.get(loop)
    if feed is None:
        feed = _feeds[loop] = Feed(get_channel_layer())
    return feed
