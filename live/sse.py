"""`GET /api/boards/{id}/events`: the board's events as server-sent events, or with
`format=json` as a page of the events after `since`."""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from rest_framework.exceptions import AuthenticationFailed

from agents import watch
from agents.authentication import BearerTokenAuthentication
from boards import access
from boards import events as event_log
from core import groups, metrics
from core.errors import DomainError, InvalidInput, NotFound, api_methods, error_body
from live import realtime

PAGE_LIMIT_DEFAULT = 100
PAGE_LIMIT_MAX = 1000


@api_methods("GET")
async def board_events(request: HttpRequest, board_id: str) -> HttpResponse:
    """An async view: the stream holds no thread while it waits, only a coroutine."""
    try:
        user = await _user(request)
        if user is None:
            return _unauthorized("Authentication credentials were not provided.")
        board = realtime.parse_int(board_id, "board_id", minimum=1)
        if not await _db(access.can, user, board, access.READ):
            raise NotFound(f"Board {board} does not exist.")
        # EventSource resends the URL it first opened, so Last-Event-ID wins over `since`.
        since = realtime.parse_optional_int(
            request.headers.get("Last-Event-ID") or request.GET.get("since"), "since", minimum=0
        )
        output = request.GET.get("format", "")
        if output == "json":
            limit = realtime.parse_optional_int(
                request.GET.get("limit"), "limit", minimum=1, maximum=PAGE_LIMIT_MAX
            )
            page = await _db(
                event_log.events_page,
                board_id=board,
                since=since or 0,
                limit=limit or PAGE_LIMIT_DEFAULT,
            )
            return JsonResponse(page)
        if output not in ("", "sse"):
            raise InvalidInput("format must be 'json', or left out for a stream.")
        current = await _db(event_log.board_last_seq, board)
        if current is None:
            raise NotFound(f"Board {board} does not exist.")
        if not realtime.streams.try_open():
            return _over_capacity()
        response = StreamingHttpResponse(
            _stream(await _watcher(request, user), board, current if since is None else since),
            content_type="text/event-stream",
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # nginx must pass each event on at once
        return response
    except AuthenticationFailed as error:
        return _unauthorized(str(error.detail))
    except DomainError as error:
        body = error_body(error.message, error.code, error.validation_errors, **error.extra)
        return JsonResponse(body, status=error.status)


async def _user(request: HttpRequest):
    """Bearer token first, then the session: the REST API's order."""
    if request.headers.get("Authorization"):
        found = await _db(BearerTokenAuthentication().authenticate, request)
        if found is not None:
            return found[0]
    user = await request.auser()
    return user if user.is_authenticated else None


async def _watcher(request: HttpRequest, user) -> watch.Watcher:
    """The user with the token, or the session key and auth hash, the stream was opened
    with: it ends when they do (revoked, signed out, expired, a password change)."""
    token = getattr(user, "api_token", None)
    if token is not None:
        return watch.Watcher(user=user, token_id=token.pk)
    if not request.session.session_key:
        return watch.Watcher(user=user)
    opened_hash = await request.session.aget(HASH_SESSION_KEY, "")
    return watch.Watcher(
        user=user, session_key=request.session.session_key, session_hash=opened_hash
    )


async def _db(function: Callable, *args: Any, **kwargs: Any) -> Any:
    """Run a database read in the shared thread pool and give its connection back at
    once: a stream holds no thread and no connection between reads (with a thread and a
    connection per stream, 200 streams took every connection of the pool)."""

    def read():
        try:
            return function(*args, **kwargs)
        finally:
            connection.close()

    return await sync_to_async(read, thread_sensitive=False)()


def _over_capacity() -> JsonResponse:
    message = f"This server holds its most event streams ({realtime.streams.limit}); retry later."
    response = JsonResponse(error_body(message, "too_many_streams", retry_after=5), status=429)
    response["Retry-After"] = "5"
    return response


def _unauthorized(message: str) -> JsonResponse:
    response = JsonResponse(error_body(message, "not_authenticated"), status=401)
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def _frame(message: dict, text: str | None = None) -> str:
    data = text if text is not None else json.dumps(message)
    return f"id: {message['seq']}\nevent: {message['event']}\ndata: {data}\n\n"


def _poll_seconds(layer) -> float:
    """How long a stream waits for a push before it reads the log itself: an in-process
    layer hears only this process's writers (a command or a stdio MCP server elsewhere
    reaches watchers only through the log); Redis hears every process, so the log is
    read only once a heartbeat, in case a push was lost."""
    if layer is None or isinstance(layer, InMemoryChannelLayer):
        return settings.SSE_POLL_MS / 1000
    return settings.SSE_HEARTBEAT_SECONDS


class _SharedPolls:
    """The last event number of each board, read for the streams that poll it: one read
    serves every stream of this process that polls the board within `fresh` seconds.
    With the in-process layer each stream polls every SSE_POLL_MS; 500 streams reading
    alone were 1,000 reads a second, a whole core, and the server's other requests
    queued behind them. A stream that must know the number now (its start, a gap)
    reads it itself."""

    def __init__(self) -> None:
        self._reads: dict[int, tuple[float, asyncio.Future]] = {}

    async def last_seq(self, board_id: int, fresh: float) -> int | None:
        now = time.monotonic()
        held = self._reads.get(board_id)
        if held is None or now - held[0] >= fresh:
            if len(self._reads) > 1000:  # boards nobody polls any more
                self._reads = {
                    key: read for key, read in self._reads.items() if now - read[0] < fresh
                }
            held = (now, asyncio.ensure_future(_last_seq(board_id)))
            self._reads[board_id] = held
        return await asyncio.shield(held[1])


_shared_polls = _SharedPolls()


async def _last_seq(board_id: int) -> int | None:
    metrics.SSE_LOG_READS.inc()
    return await _db(event_log.board_last_seq, board_id)


async def _stream(watcher: watch.Watcher, board_id: int, after: int) -> AsyncIterator[str]:
    """The board's events after `after`, pushed from the channel layer as the WebSocket
    path gets them. The log is the truth: it is read to catch up (at the start, when a
    pushed event's number skips one, and when no push came for a while), so a stream
    neither skips nor repeats an event. A change to what the watcher may read reaches it
    through the watcher's groups, as it reaches a WebSocket; the watch is also asked
    afresh once a heartbeat."""
    layer = get_channel_layer()
    channel = await layer.new_channel() if layer is not None else None
    joined = [groups.board_group_name(board_id), *watcher.groups()] if layer is not None else []
    try:
        for group in joined:
            await layer.group_add(group, channel)
        yield f"retry: {settings.SSE_POLL_MS * 4}\n: connected\n\n"
        async for frame in _frames(layer, channel, watcher, board_id, after):
            yield frame
    finally:
        realtime.streams.release()
        for group in joined:
            await layer.group_discard(group, channel)


async def _frames(layer, channel, watcher, board_id: int, after: int) -> AsyncIterator[str]:
    poll = _poll_seconds(layer)
    beat = settings.SSE_HEARTBEAT_SECONDS
    last_write = time.monotonic()
    next_check = last_write + beat
    read_log = True  # catch up first: events committed since the caller's `since`
    polled = False  # whether the log is read because no push came (a shared read will do)
    while True:
        if read_log:
            if polled:
                current = await _shared_polls.last_seq(board_id, fresh=poll / 2)
            else:
                current = await _last_seq(board_id)
            if current is None:
                gone = {"event": "board_deleted", "board_id": board_id, "seq": after + 1}
                yield _frame({**gone, "data": {"id": board_id}})
                return
            if after < current:
                # Before anything read from the log is sent: a watch ended in a process
                # whose layer does not reach this one (a command, a test) ends it here.
                if not await _db(watch.may_still_watch, watcher, board_id):
                    return
                next_check = time.monotonic() + beat
            while after < current:
                events = await _db(
                    event_log.events_after, board_id=board_id, after=after, upto=current
                )
                if not events:
                    break
                for event in events:
                    yield _frame(event)
                after = events[-1]["seq"]
                last_write = time.monotonic()
            read_log = polled = False
        if time.monotonic() >= next_check:
            if not await _db(watch.may_still_watch, watcher, board_id):
                return
            next_check = time.monotonic() + beat
        if time.monotonic() - last_write >= beat:
            yield ": heartbeat\n\n"
            last_write = time.monotonic()
        wait = min(poll, max(0.0, min(next_check, last_write + beat) - time.monotonic()))
        message = await _next_message(layer, channel, wait)
        if message is None:
            read_log = polled = True
            continue
        kind = message.get("type")
        if kind == groups.BOARD_EVENT:
            event = message["message"]
            if event["seq"] <= after:
                continue
            if event["seq"] > after + 1:
                read_log = True  # a gap: the log has what the layer did not bring
                continue
            yield _frame(event, message.get("text"))
            after = event["seq"]
            last_write = time.monotonic()
            if event["event"] == "board_deleted":
                return
        elif kind == groups.SIGNED_OUT:
            return
        elif kind in (groups.ACCESS_CHANGED, groups.TOKEN_REVOKED) and not await _db(
            watch.may_still_watch, watcher, board_id
        ):
            return  # asked at once, before another event can be sent


async def _next_message(layer, channel, wait: float) -> dict | None:
    if layer is None:
        await asyncio.sleep(wait)
        return None
    try:
        return await asyncio.wait_for(layer.receive(channel), timeout=wait)
    except TimeoutError:
        return None
