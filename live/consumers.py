"""The board WebSocket: `ws://host/ws/connect?board_id=…&since=…`.

Out: board events `{event, data, board_id, seq, timestamp, actor}`, and control
messages with a `type`: subscribed, unsubscribed, pong, heartbeat, stats, error.
In: `{type: ping | subscribe_board | unsubscribe_board | get_stats}`.

Refusals accept first and then close with a code, because a handshake refused before
accept reaches a browser as 1006 with no code at all. The close codes (the `CLOSE_*`
constants below are the one list; `live.limits` uses it too) mirror HTTP statuses in
the 4000 range, because daphne sends no code but 1000 and 3000-4999 (it raises on the
others, 1008 and 1009 included, and the client sees 1011): 4400 bad query parameters,
4401 not signed in (or a bad token), 4403 forbidden, 4404 no such board (or one the
user may not read: the two look the same on purpose), 4408 silent for three heartbeats,
4413 a message over WS_MAX_MESSAGE_BYTES, 4429 too many: this instance is at
WS_MAX_CONNECTIONS, too many connects (`live.limits`, after an error frame
`rate_limited`), or more than WS_MAX_MESSAGES_PER_MINUTE messages from the client
(after an error frame `rate_limited`).

However a connection ends (the client closes, it drops without a close frame, the
server closes it, a handler raises, or the consumer is cancelled as daphne does at
shutdown), its slot under WS_MAX_CONNECTIONS is released and every channel-layer group
it joined is left (`BoardEventsConsumer.end`).

A connection is closed with 4401, after an error frame `token_revoked` or
`account_inactive`, once its API token is revoked or expires, or its account is switched
off; one opened with a session, after `signed_out` when that session signs out, and after
`session_ended` once the session no longer signs its user in (deleted, expired, or the
password changed). A board its user may no longer read is unsubscribed (`unsubscribed`,
reason `board_not_found`). All of it happens at once when the change is announced
(`core.groups`, `live.access_push`), and at the latest at the next heartbeat.
"""

import asyncio
import json
import logging
import time
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY
from django.core.serializers.json import DjangoJSONEncoder

from agents import watch
from boards import events as event_log
from core import groups
from core.errors import DomainError, InvalidInput, NotFound
from live import realtime

logger = logging.getLogger(__name__)

# The close codes of the board WebSocket: 1000 or 3000-4999 only (daphne sends no other).
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_SILENT = 4408
CLOSE_TOO_BIG = 4413
CLOSE_TOO_MANY = 4429
CLOSE_OVER_CAPACITY = CLOSE_TOO_MANY  # this instance is at WS_MAX_CONNECTIONS
CLOSE_RATE_LIMITED = CLOSE_TOO_MANY  # too many connects (`live.limits`)
CLOSE_TOO_MANY_MESSAGES = CLOSE_TOO_MANY  # over WS_MAX_MESSAGES_PER_MINUTE
SILENT_HEARTBEATS = 3
# The error frame sent before closing with 4401, by `agents.watch`'s reason.
WATCH_ENDED_MESSAGES = {
    watch.ACCOUNT_INACTIVE: "The account is switched off.",
    watch.SESSION_ENDED: "The session has ended: sign in again.",
    watch.TOKEN_REVOKED: "The token is revoked or expired.",
}


class BoardEventsConsumer(AsyncWebsocketConsumer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # board id -> the last sequence number sent to this client for that board
        self.boards: dict[int, int] = {}
        # Every group joined and not yet left, so that `end` leaves them all.
        self.joined: set[str] = set()
        # Channels runs this consumer's handlers one at a time; the lock only keeps
        # the heartbeat task's catch-up from interleaving with them.
        self.lock = asyncio.Lock()
        # counted: holds a slot under WS_MAX_CONNECTIONS.
        self.counted = self.closed = False
        self.heartbeat_task: asyncio.Task | None = None
        self.watcher: watch.Watcher | None = None

    async def __call__(self, scope, receive, send) -> None:
        """Channels' consumer loop, then `end`, however the loop ended: the disconnect
        message runs `end` too, but a handler that raises or a cancelled consumer (daphne
        cancels them all at shutdown, and any still running 10 s after its client left)
        gets none. A cancelled consumer ends normally once `end` is done: daphne's
        shutdown waits for all of them with `asyncio.gather`, which stops waiting (and
        the event loop stops, groups still joined) as soon as one ends cancelled."""
        try:
            await super().__call__(scope, receive, send)
        except asyncio.CancelledError:
            pass  # asked to end: ends, below
        finally:
            await self.end()

    async def connect(self) -> None:
        self.last_heard = time.monotonic()
        self.rate = MessageRate(settings.WS_MAX_MESSAGES_PER_MINUTE)
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return await self.close_with(CLOSE_UNAUTHENTICATED)
        self.watcher = self.watcher_of(user)
        # Revoking the token, or shrinking what the user may read, reaches this
        # connection through these groups.
        for group in self.identity_groups():
            await self.join(group)
        # Switched off or signed out after signing in but before joining the groups: no
        # message comes.
        if await self.close_if_watch_ended():
            return
        if not realtime.connections.try_open():
            return await self.close_with(CLOSE_OVER_CAPACITY)
        self.counted = True
        query = parse_qs(self.scope.get("query_string", b"").decode("latin1"))
        try:
            board_id = realtime.parse_optional_int(_last(query, "board_id"), "board_id", minimum=1)
            since = realtime.parse_optional_int(_last(query, "since"), "since", minimum=0)
            if board_id is not None:
                await self.subscribe(board_id, since)
        except DomainError as error:
            await self.send_error(error.code, error.message)
            code = {404: CLOSE_NOT_FOUND, 403: CLOSE_FORBIDDEN}.get(error.status)
            return await self.close_with(code or CLOSE_BAD_REQUEST)
        self.heartbeat_task = asyncio.create_task(self.heartbeat())

    async def disconnect(self, code) -> None:
        await self.end()

    async def end(self) -> None:
        """Give back what the connection holds: its slot, its heartbeat, its groups.
        Runs at the disconnect message and again as the consumer ends; the second run
        finds nothing left to do."""
        self.closed = True
        # Count the connection out before anything that awaits and might not finish.
        if self.counted:
            self.counted = False
            realtime.connections.release()
        self.boards.clear()
        task, self.heartbeat_task = self.heartbeat_task, None
        if task is not None and task is not asyncio.current_task():
            # Stopped before the groups are left, so its renewal cannot join one again.
            task.cancel()
            await asyncio.wait({task})
            if not task.cancelled() and task.exception() is not None:
                logger.warning("WebSocket heartbeat failed", exc_info=task.exception())
        while self.joined:
            group = self.joined.pop()
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:
                # The others are still left; the channel layer expires this membership.
                logger.warning("WebSocket group %s not left", group, exc_info=True)

    async def join(self, group: str) -> None:
        # Noted before the await: a consumer cancelled during it still leaves the group.
        self.joined.add(group)
        await self.channel_layer.group_add(group, self.channel_name)

    async def leave(self, group: str) -> None:
        self.joined.discard(group)
        await self.channel_layer.group_discard(group, self.channel_name)

    def watcher_of(self, user) -> watch.Watcher:
        """The user with the token or, for a browser, the session it signed in with."""
        token = getattr(user, "api_token", None)
        if token is not None:
            return watch.Watcher(user=user, token_id=token.pk)
        # The auth middleware has loaded this session to find the user: no query.
        session = self.scope["session"]
        return watch.Watcher(
            user=user,
            session_key=session.session_key,
            session_hash=session.get(HASH_SESSION_KEY) or "",
        )

    def identity_groups(self) -> list[str]:
        """The groups of this connection's user, token or session (none before sign-in)."""
        return self.watcher.groups() if self.watcher is not None else []

    async def dispatch(self, message: dict) -> None:
        """Channels' dispatch, without its `aclose_old_connections()` before every
        handler: that is a hop to the one database thread per message, so a hop per
        watcher for every event. Every query here goes through
        `database_sync_to_async`, which closes stale connections around the query."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # ------------------------------------------------------------ messages in

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if self.closed:
            return  # refused or closing: nothing a client says matters any more
        self.last_heard = time.monotonic()
        if not self.rate.allow(self.last_heard):
            limit = settings.WS_MAX_MESSAGES_PER_MINUTE
            await self.send_error("rate_limited", f"At most {limit} messages a minute.")
            return await self.close_with(CLOSE_TOO_MANY_MESSAGES)
        raw = text_data.encode() if text_data is not None else bytes_data or b""
        if len(raw) > settings.WS_MAX_MESSAGE_BYTES:
            limit = settings.WS_MAX_MESSAGE_BYTES
            await self.send_error("message_too_large", f"Messages are limited to {limit} bytes.")
            return await self.close_with(CLOSE_TOO_BIG)
        try:
            message = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: nested too deep
            return await self.send_error("invalid_json", "A message must be a JSON object.")
        kind = message.get("type") if isinstance(message, dict) else None
        handler = self.handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            known = ", ".join(self.handlers)
            return await self.send_error("unknown_type", f"'type' must be one of: {known}.")
        try:
            await handler(self, message)
        except DomainError as error:
            await self.send_error(error.code, error.message)
        except Exception:
            # A client message must never take the connection down with it.
            logger.exception("WebSocket message %r failed", kind)
            await self.send_error("server_error", "The message could not be handled.")

    async def on_ping(self, message: dict) -> None:
        await self.send_json({"type": "pong"})

    async def on_subscribe(self, message: dict) -> None:
        board_id = realtime.parse_int(message.get("board_id"), "board_id", minimum=1)
        since = realtime.parse_optional_int(message.get("since"), "since", minimum=0)
        await self.subscribe(board_id, since)

    async def on_unsubscribe(self, message: dict) -> None:
        board_id = realtime.parse_int(message.get("board_id"), "board_id", minimum=1)
        await self.unsubscribe(board_id)
        await self.send_json({"type": "unsubscribed", "board_id": board_id})

    async def on_get_stats(self, message: dict) -> None:
        stats = realtime.connection_stats()
        await self.send_json({"type": "stats", **stats, "boards": sorted(self.boards)})

    handlers = {
        "ping": on_ping,
        "subscribe_board": on_subscribe,
        "unsubscribe_board": on_unsubscribe,
        "get_stats": on_get_stats,
    }

    # ------------------------------------------------------------ subscriptions

    async def subscribe(self, board_id: int, since: int | None) -> None:
        """Join the board's group first, then read the log. Events committed after
        the read arrive live, queued behind this handler (Channels hands the consumer
        one message at a time, so the channel is the buffer); events both read and
        pushed are dropped by their sequence number; a push that was lost or dropped
        for a full channel shows as a gap and is read from the log. The right to read
        is asked after the log's position is read, so nothing committed after a
        removal is replayed."""
        if board_id not in self.boards and len(self.boards) >= settings.WS_MAX_BOARDS:
            raise InvalidInput(f"A connection may watch at most {settings.WS_MAX_BOARDS} boards.")
        await self.join(groups.board_group_name(board_id))
        try:
            current = await database_sync_to_async(event_log.readable_board_last_seq)(
                self.scope["user"], board_id
            )
        except NotFound:
            await self.unsubscribe(board_id)
            raise
        async with self.lock:
            if since is not None or board_id not in self.boards:
                # A `since` from a newer log than this one (a restored database)
                # must not hold back the events that follow.
                self.boards[board_id] = current if since is None else min(since, current)
            await self.send_missing(board_id, upto=current)
        await self.send_json(
            {"type": "subscribed", "board_id": board_id, "seq": self.boards[board_id]}
        )

    async def unsubscribe(self, board_id: int) -> None:
        self.boards.pop(board_id, None)
        await self.leave(groups.board_group_name(board_id))

    async def send_missing(self, board_id: int, upto: int) -> None:
        """Send the board's logged events after the last one sent, up to `upto`."""
        while board_id in self.boards and self.boards[board_id] < upto:
            events = await database_sync_to_async(event_log.events_after)(
                board_id=board_id, after=self.boards[board_id], upto=upto
            )
            for event in events:
                await self.send_event(event)
            if len(events) < event_log.READ_BATCH:
                return

    async def send_event(self, event: dict, text: str | None = None) -> None:
        """Send one event unless it was sent already; `text` is its JSON when the
        publisher encoded it once for every watcher."""
        if event["seq"] <= self.boards.get(event["board_id"], event["seq"]):
            return
        self.boards[event["board_id"]] = event["seq"]
        if text is None:
            await self.send_json(event)
        elif not self.closed:
            await self.send(text_data=text)

    # ------------------------------------------------------------ messages from the group

    async def board_event(self, message: dict) -> None:
        event = message["message"]
        board_id = event["board_id"]
        async with self.lock:
            last = self.boards.get(board_id)
            if last is None or event["seq"] <= last:
                return  # not (or no longer) watched, or already sent from the log
            if event["seq"] > last + 1:
                await self.send_missing(board_id, upto=event["seq"] - 1)
            await self.send_event(event, message.get("text"))
        if event["event"] == "board_deleted":
            await self.unsubscribe(board_id)

    # ------------------------------------------------------------ the token and the account

    async def token_revoked(self, message: dict) -> None:
        if self.watcher is not None and message.get("token_id") == self.watcher.token_id:
            await self.close_for(watch.TOKEN_REVOKED)

    async def close_for(self, reason: str) -> None:
        await self.send_error(reason, WATCH_ENDED_MESSAGES[reason])
        await self.close_with(CLOSE_UNAUTHENTICATED)

    async def access_changed(self, message: dict) -> None:
        """What the user may read may have shrunk: ask again now. Channels hands this
        consumer one message at a time, so a board found unreadable here is unsubscribed
        before any later message is handled, and `board_event` drops the later events
        of a board no longer watched. Those later events include every event committed
        after a removal: the removal held the board row locked (as every event write
        does) and sends this message as its commit returns, so theirs are sent after it,
        unless a writer elsewhere commits and sends within that very instant."""
        if await self.close_if_watch_ended():
            return
        await self.drop_unreadable(list(self.boards))

    async def close_if_watch_ended(self) -> bool:
        """Asked afresh (`agents.watch`): a switched-off (or deleted) account, a session
        that no longer signs its user in (signed out, deleted, expired, or the password
        changed since), or a revoked or expired token closes the connection. True when
        it was closed."""
        reason = await database_sync_to_async(watch.why_watch_ends)(self.watcher)
        if reason is None:
            return False
        await self.close_for(reason)
        return True

    async def session_signed_out(self, message: dict) -> None:
        await self.send_error("signed_out", "The session signed out.")
        await self.close_with(CLOSE_UNAUTHENTICATED)

    async def drop_unreadable(self, board_ids: list[int]) -> None:
        """Unsubscribe those of the boards the user may no longer read: from now on it is
        as if they did not exist."""
        readable = await database_sync_to_async(watch.boards_readable)(
            self.scope["user"], board_ids
        )
        for board_id in sorted(set(board_ids) - readable):
            if board_id in self.boards:  # not unsubscribed by the client meanwhile
                await self.unsubscribe(board_id)
                await self.send_json(
                    {"type": "unsubscribed", "board_id": board_id, "reason": "board_not_found"}
                )

    # ------------------------------------------------------------ liveness

    async def heartbeat(self) -> None:
        interval = settings.WS_HEARTBEAT_SECONDS
        while not self.closed:
            await asyncio.sleep(interval)
            if time.monotonic() - self.last_heard > SILENT_HEARTBEATS * interval:
                realtime.connections.closed_silent += 1
                return await self.close_with(CLOSE_SILENT)
            # A revocation or sign-out whose message was lost, or an expiry, ends the
            # connection within one heartbeat.
            try:
                if await self.close_if_watch_ended():
                    return
            except Exception:
                logger.warning(
                    "WebSocket account, session or token check failed; next heartbeat retries",
                    exc_info=True,
                )
            await self.send_json({"type": "heartbeat"})
            try:
                await self.catch_up()
            except Exception:
                logger.warning("WebSocket catch-up failed; next heartbeat retries", exc_info=True)

    async def catch_up(self) -> None:
        """Once a heartbeat, after the account was asked afresh: renew group membership
        (Redis expires it after a day), drop boards the user may no longer read (in case
        the message saying so was lost), and send what the log has beyond the last event
        sent, so even a lost push of a board's latest event reaches the client within
        one heartbeat."""
        watched = list(self.boards)
        for board_id in watched:
            await self.join(groups.board_group_name(board_id))
        for group in self.identity_groups():
            await self.join(group)
        # Positions first, then the right to read: what is sent up to them was committed
        # while the user could still read the board.
        current = await database_sync_to_async(event_log.boards_last_seq)(watched)
        await self.drop_unreadable(list(current))
        for board_id in watched:
            if board_id not in self.boards:
                continue  # dropped just now, or unsubscribed by the client meanwhile
            if board_id not in current:
                await self.unsubscribe(board_id)
                await self.send_json(
                    {"type": "unsubscribed", "board_id": board_id, "reason": "board_deleted"}
                )
                continue
            async with self.lock:
                await self.send_missing(board_id, upto=current[board_id])

    # ------------------------------------------------------------ sending

    async def send_json(self, content: dict) -> None:
        if not self.closed:
            await self.send(text_data=json.dumps(content, cls=DjangoJSONEncoder))

    async def send_error(self, code: str, message: str) -> None:
        await self.send_json({"type": "error", "code": code, "message": message})

    async def close_with(self, code: int) -> None:
        if not self.closed:
            self.closed = True
            await self.close(code=code)


class MessageRate:
    """A token bucket per connection: `per_minute` messages a minute on average, with
    bursts of up to `per_minute`."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(max(1, per_minute))
        self.allowance = self.capacity
        self.refill_per_second = self.capacity / 60
        self.checked = time.monotonic()

    def allow(self, now: float) -> bool:
        elapsed = max(0.0, now - self.checked)
        self.checked = now
        self.allowance = min(self.capacity, self.allowance + elapsed * self.refill_per_second)
        if self.allowance < 1:
            return False
        self.allowance -= 1
        return True


def _last(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None
