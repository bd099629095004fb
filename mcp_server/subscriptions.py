"""`subscriptions/listen` on the board event log: a committed change, whichever process
made it, reaches this process as a board event on the channel layer (`feed`), and the
resources it touches are announced to the listen streams that asked for them.

The SDK's own listen handler serves the streams (acknowledgement, subscription ids,
buffering); `ListenGuard`, a server middleware, stands in front of it: it keeps only
the URIs the caller may read, puts this process in those boards' groups for as long as
the stream is open, and ends the stream when the caller loses a board (a membership
removed, the account switched off, the token revoked)."""

import asyncio
import dataclasses
import logging
from collections import defaultdict
from typing import Any

import anyio
from mcp.server.subscriptions import (
    SUBSCRIPTION_ID_META_KEY,
    InMemorySubscriptionBus,
    ResourceUpdated,
)
from mcp.types import SubscriptionsListenResult

from agents.watch import Watcher, boards_readable, why_watch_ends
from boards import access
from core import groups
from mcp_server.feed import Feed, loop_feed
from mcp_server.identity import current_actor
from mcp_server.resources import BOARDS, listened_boards, uris_touched
from mcp_server.threads import on_mcp_threads

logger = logging.getLogger(__name__)

LISTEN = "subscriptions/listen"

# Shared by every MCP server of the process: the SDK's bus hands each event to the
# listen streams open on it, and this module publishes into it.
BUS = InMemorySubscriptionBus()


@dataclasses.dataclass(eq=False)
class _Stream:
    watcher: Watcher
    boards: frozenset[int]
    cancel: anyio.CancelScope


class ListenGuard:
    """Server middleware for `subscriptions/listen` (every other request passes)."""

    def __init__(self) -> None:
        self._streams: dict[Feed, dict[int, set[_Stream]]] = {}

    async def __call__(self, ctx, call_next) -> Any:
        if ctx.method != LISTEN:
            return await call_next(ctx)
        params = dict(ctx.params or {})
        notifications = dict(params.get("notifications") or {})
        asked = notifications.get("resourceSubscriptions") or []
        if not isinstance(asked, list) or not all(isinstance(uri, str) for uri in asked):
            return await call_next(ctx)  # the SDK refuses the malformed request
        watcher, kept, boards = await on_mcp_threads(_allowed)(asked)
        notifications["resourceSubscriptions"] = kept
        params["notifications"] = notifications
        feed = loop_feed()
        self._listen_for_access(feed)
        needed = [groups.board_group_name(board_id) for board_id in boards]
        needed.append(groups.user_group_name(watcher.user.pk))
        if watcher.token_id is not None:
            needed.append(groups.token_group_name(watcher.token_id))
        by_user = self._streams[feed]
        async with feed.needing(needed):
            with anyio.CancelScope() as cancel:
                stream = _Stream(watcher, frozenset(boards), cancel)
                by_user[watcher.user.pk].add(stream)
                try:
                    return await call_next(dataclasses.replace(ctx, params=params))
                finally:
                    by_user[watcher.user.pk].discard(stream)
                    if not by_user[watcher.user.pk]:
                        del by_user[watcher.user.pk]
        # Cut because the caller lost what it listened to: ended as the server ends
        # a stream on purpose, with the listen's result.
        return SubscriptionsListenResult(_meta={SUBSCRIPTION_ID_META_KEY: ctx.request_id})

    def _listen_for_access(self, feed: Feed) -> None:
        if feed in self._streams:
            return
        self._streams[feed] = defaultdict(set)
        feed.on(groups.BOARD_EVENT, _publish_resources)
        feed.on(groups.ACCESS_CHANGED, lambda message: self._access_changed(feed, message))
        feed.on(groups.TOKEN_REVOKED, lambda message: self._token_revoked(feed, message))

    def _access_changed(self, feed: Feed, message: dict) -> None:
        streams = list(self._streams[feed].get(message.get("user_id"), ()))
        if streams:
            asyncio.get_running_loop().create_task(_end_lost(streams))
        _publish(ResourceUpdated(uri=BOARDS))

    def _token_revoked(self, feed: Feed, message: dict) -> None:
        # Over HTTP the request is cut too (mcp_server.http); a stdio agent has only this.
        token_id = message.get("token_id")
        for streams in self._streams[feed].values():
            for stream in list(streams):
                if stream.watcher.token_id == token_id:
                    stream.cancel.cancel()


def _allowed(asked: list[str]) -> tuple[Watcher, list[str], set[int]]:
    actor = current_actor()
    kept, boards = listened_boards(actor, asked)
    token = access.request_token(actor)
    return Watcher(actor, token_id=token.pk if token else None), kept, boards


async def _end_lost(streams: list[_Stream]) -> None:
    for stream in streams:
        still = await on_mcp_threads(_may_go_on)(stream)
        if not still:
            stream.cancel.cancel()


def _may_go_on(stream: _Stream) -> bool:
    if why_watch_ends(stream.watcher) is not None:
        return False
    return boards_readable(stream.watcher.user, list(stream.boards)) == set(stream.boards)


def _publish_resources(message: dict) -> None:
    event = message.get("message") or {}
    try:
        touched = uris_touched(event)
    except (KeyError, TypeError):
        logger.warning("A board event without its board: %r", event)
        return
    for uri in touched:
        _publish(ResourceUpdated(uri=uri))


def _publish(event) -> None:
    # The bus hands the event to each open stream's buffer at once; publishing is a
    # coroutine only for buses that do I/O.
    asyncio.get_running_loop().create_task(BUS.publish(event))
