"""`GET /api/boards/{id}/events`: the board's events as server-sent events, or with
`format=json` as a page of the events after `since`."""

import asyncio
import json
import time
from collections.abc import AsyncIterator

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from rest_framework.exceptions import AuthenticationFailed

from agents import watch
from agents.authentication import BearerTokenAuthentication
from boards import access
from boards import events as event_log
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
        if not await database_sync_to_async(access.can)(user, board, access.READ):
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
            page = await database_sync_to_async(event_log.events_page)(
                board_id=board, since=since or 0, limit=limit or PAGE_LIMIT_DEFAULT
            )
            return JsonResponse(page)
        if output not in ("", "sse"):
            raise InvalidInput("format must be 'json', or left out for a stream.")
        current = await database_sync_to_async(event_log.board_last_seq)(board)
        if current is None:
            raise NotFound(f"Board {board} does not exist.")
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
        found = await database_sync_to_async(BearerTokenAuthentication().authenticate)(request)
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


def _unauthorized(message: str) -> JsonResponse:
    response = JsonResponse(error_body(message, "not_authenticated"), status=401)
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def _frame(message: dict) -> str:
    data = json.dumps(message)
    return f"id: {message['seq']}\nevent: {message['event']}\ndata: {data}\n\n"


async def _stream(watcher: watch.Watcher, board_id: int, after: int) -> AsyncIterator[str]:
    """Polls the log instead of listening to the channel layer. It is the simplest
    correct way: the table is the truth, and reading `seq > last` can neither skip
    nor repeat an event, with no replay/live hand-over to get right; it works in
    every shape (the in-memory layer cannot reach across processes); and nothing is
    left in a group when a client vanishes. The cost: one primary-key read per poll
    per stream, and up to SSE_POLL_MS of extra latency."""
    poll = settings.SSE_POLL_MS / 1000
    beat = settings.SSE_HEARTBEAT_SECONDS
    yield f"retry: {settings.SSE_POLL_MS * 4}\n: connected\n\n"
    last_write = time.monotonic()
    next_check = last_write + beat
    while True:
        current = await database_sync_to_async(event_log.board_last_seq)(board_id)
        if current is None:
            gone = {"event": "board_deleted", "board_id": board_id, "seq": after + 1}
            yield _frame({**gone, "data": {"id": board_id}})
            return
        if after < current or time.monotonic() >= next_check:
            # Before anything new is sent, and once a heartbeat: a revoked token, an
            # ended session, or a member removed from the board, ends the stream as if
            # the board were gone.
            if not await database_sync_to_async(watch.may_still_watch)(watcher, board_id):
                return
            next_check = time.monotonic() + beat
        while after < current:
            events = await database_sync_to_async(event_log.events_after)(
                board_id=board_id, after=after, upto=current
            )
            if not events:
                break
            for event in events:
                yield _frame(event)
            after = events[-1]["seq"]
            last_write = time.monotonic()
        if time.monotonic() - last_write >= beat:
            yield ": heartbeat\n\n"
            last_write = time.monotonic()
        await asyncio.sleep(poll)
