"""Revoking a token cuts what is open with it: WebSocket connections (in process, and on
a real daphne reached through Redis) and MCP sessions over HTTP and stdio."""

import json
import sys
from datetime import timedelta

import anyio
import httpx
import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.utils import timezone
from mcp import ClientSession, MCPError
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.subscriptions import SubscriptionLost
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from agents.models import ApiToken
from agents.services import token_revoke
from tests.mcp.conftest import BASE_DIR, server_env
from tests.mcp.helpers import agent_client, data, error_text, http_session
from tests.realtime.conftest import bearer, closed_with, receive
from tests.realtime.procs import REDIS_URL, use_redis_layer
from tests.tokens.conftest import issue

pytestmark = pytest.mark.django_db(transaction=True)

revoke_async = database_sync_to_async(token_revoke)
issue_async = database_sync_to_async(issue)


def revoke_from_thread(token) -> None:
    """Revoke from a worker thread, closing that thread's database connection after, so
    the test database can be dropped."""
    try:
        token_revoke(actor=None, token=token)
    finally:
        connection.close()


# ---------------------------------------------------------------- WebSocket, in process


async def test_revoking_closes_the_sockets_of_that_token_only(sockets, scoped_agent):
    doomed = await issue_async(scoped_agent, name="doomed")
    kept = await issue_async(scoped_agent, name="kept")
    closing = await sockets("/ws/connect", bearer(doomed.secret))
    staying = await sockets("/ws/connect", bearer(kept.secret))
    for socket in (closing, staying):
        await socket.send_json_to({"type": "ping"})
        assert await receive(socket) == {"type": "pong"}

    await revoke_async(actor=None, token=doomed.token)

    error = await receive(closing)
    assert (error["type"], error["code"]) == ("error", "token_revoked")
    assert await closed_with(closing) == 4401
    await staying.send_json_to({"type": "ping"})
    assert await receive(staying) == {"type": "pong"}


async def test_an_expired_token_is_cut_at_the_next_heartbeat(sockets, scoped_agent, settings):
    settings.WS_HEARTBEAT_SECONDS = 0.3
    issued = await issue_async(scoped_agent, expires_at=timezone.now() + timedelta(hours=1))
    socket = await sockets("/ws/connect", bearer(issued.secret))
    await database_sync_to_async(
        lambda: ApiToken.objects.filter(pk=issued.token.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    )()
    error = await receive(socket)
    assert (error["type"], error["code"]) == ("error", "token_revoked")
    assert await closed_with(socket) == 4401


async def test_a_session_socket_is_not_touched_by_revocations(sockets, user, scoped_agent):
    from django.test import Client

    client = Client()
    await database_sync_to_async(client.force_login)(user)
    cookie = (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())
    socket = await sockets("/ws/connect", [cookie])
    issued = await issue_async(scoped_agent)
    await revoke_async(actor=None, token=issued.token)
    await socket.send_json_to({"type": "ping"})
    assert await receive(socket) == {"type": "pong"}


# ---------------------------------------------------------------- WebSocket input limits


async def test_too_many_messages_get_an_error_then_close_4429(sockets, scoped_agent, settings):
    settings.WS_MAX_MESSAGES_PER_MINUTE = 5
    issued = await issue_async(scoped_agent)
    socket = await sockets("/ws/connect", bearer(issued.secret))
    for _ in range(5):
        await socket.send_json_to({"type": "ping"})
        assert await receive(socket) == {"type": "pong"}
    await socket.send_json_to({"type": "ping"})
    error = await receive(socket)
    assert (error["type"], error["code"]) == ("error", "rate_limited")
    assert await closed_with(socket) == 4429


async def test_a_message_over_the_size_limit_closes_4413(sockets, scoped_agent, settings):
    settings.WS_MAX_MESSAGE_BYTES = 200
    issued = await issue_async(scoped_agent)
    socket = await sockets("/ws/connect", bearer(issued.secret))
    await socket.send_to(text_data=json.dumps({"type": "ping", "pad": "x" * 150}))
    assert await receive(socket) == {"type": "pong"}
    await socket.send_to(text_data=json.dumps({"type": "ping", "pad": "x" * 250}))
    error = await receive(socket)
    assert (error["type"], error["code"]) == ("error", "message_too_large")
    assert await closed_with(socket) == 4413


# ---------------------------------------------------------------- real daphne, via Redis


def test_revoking_in_another_process_closes_a_live_websocket(start_daphne, settings, scoped_agent):
    prefix = use_redis_layer(settings)
    # No heartbeat during the test: only the revocation message can close the socket.
    url = start_daphne(
        REDIS_URL=REDIS_URL, CHANNEL_LAYER_PREFIX=prefix, WS_HEARTBEAT_SECONDS="3600"
    )
    issued = issue(scoped_agent)
    ws_url = url.replace("http://", "ws://") + "/ws/connect"
    headers = {"Authorization": f"Bearer {issued.secret}"}
    with connect(ws_url, additional_headers=headers, open_timeout=15) as socket:
        socket.send(json.dumps({"type": "ping"}))
        assert json.loads(socket.recv(timeout=15)) == {"type": "pong"}

        token_revoke(actor=None, token=issued.token)

        error = json.loads(socket.recv(timeout=15))
        assert (error["type"], error["code"]) == ("error", "token_revoked")
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=15)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


# ---------------------------------------------------------------- MCP over HTTP


def test_revoking_ends_an_open_listen_stream(start_daphne, settings, scoped_agent):
    """A `subscriptions/listen` stream is one long request: revoking the token in another
    process cuts it at once, with no further event on the board."""
    prefix = use_redis_layer(settings)
    base = start_daphne(REDIS_URL=REDIS_URL, CHANNEL_LAYER_PREFIX=prefix)
    issued = issue(scoped_agent)

    async def listen_while_revoking() -> str:
        async with (
            agent_client(base, issued.secret) as client,
            client.listen(resource_subscriptions=["kanban://boards"]) as stream,
        ):
            await anyio.to_thread.run_sync(revoke_from_thread, issued.token)
            with anyio.fail_after(20):
                try:
                    async for _ in stream:
                        pass
                except SubscriptionLost:
                    return "cut"
                return "closed"

    assert anyio.run(listen_while_revoking) in {"cut", "closed"}


def test_an_mcp_client_session_stops_working_after_revoke(start_daphne, scoped_agent):
    """The official client: the call after the revocation is answered 401, which the SDK
    turns into an MCPError."""
    base = start_daphne()
    issued = issue(scoped_agent)

    async def work() -> dict:
        async with http_session(base, issued.secret) as session:
            before = data(await session.call_tool("list_boards", {}))
            await anyio.to_thread.run_sync(revoke_from_thread, issued.token)
            with anyio.fail_after(30), pytest.raises(MCPError):
                await session.call_tool("list_boards", {})
            return before

    assert {board["name"] for board in anyio.run(work)["items"]} == {"Mine", "Also mine"}


# ---------------------------------------------------------------- MCP over stdio


def test_a_stdio_session_keeps_the_tokens_limits_and_checks_it_on_every_call(
    scoped_agent, two_boards
):
    mine, also, _ = two_boards
    issued = issue(scoped_agent, read_only=True, board_ids=[mine.pk])
    params = StdioServerParameters(
        command=sys.executable,
        args=["manage.py", "mcp"],
        cwd=BASE_DIR,
        env=server_env(AGENT_KANBAN_TOKEN=issued.secret),
    )

    async def work() -> dict:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            boards = data(await session.call_tool("list_boards", {}))
            write = await session.call_tool("create_task", {"board_id": mine.pk, "title": "No"})
            hidden = await session.call_tool("list_tasks", {"board_id": also.pk})
            await anyio.to_thread.run_sync(revoke_from_thread, issued.token)
            after = await session.call_tool("list_boards", {})
            return {
                "boards": boards,
                "write": error_text(write),
                "hidden": error_text(hidden),
                "after": error_text(after),
            }

    answers = anyio.run(work)
    assert [board["id"] for board in answers["boards"]["items"]] == [mine.pk]
    assert "read-only" in answers["write"]
    assert "does not exist" in answers["hidden"]
    assert "revoked" in answers["after"]


async def test_expired_or_limited_tokens_on_the_websocket(sockets, scoped_agent, two_boards):
    mine, also, _ = two_boards
    expired = await issue_async(scoped_agent, expires_at=timezone.now() + timedelta(hours=1))
    await database_sync_to_async(
        lambda: ApiToken.objects.filter(pk=expired.token.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    )()
    refused = await sockets("/ws/connect", bearer(expired.secret))
    assert await closed_with(refused) == 4401

    limited = await issue_async(scoped_agent, board_ids=[mine.pk])
    allowed = await sockets(f"/ws/connect?board_id={mine.pk}", bearer(limited.secret))
    assert (await receive(allowed))["type"] == "subscribed"
    outside = await sockets(f"/ws/connect?board_id={also.pk}", bearer(limited.secret))
    assert (await receive(outside))["type"] == "error"
    assert await closed_with(outside) == 4404  # refused like a board that does not exist


def test_an_expired_token_opens_no_mcp_session(start_daphne, scoped_agent):
    base = start_daphne()
    issued = issue(scoped_agent, expires_at=timezone.now() + timedelta(hours=1))
    ApiToken.objects.filter(pk=issued.token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    headers = {
        "Authorization": f"Bearer {issued.secret}",
        "Accept": "application/json, text/event-stream",
    }
    with httpx.Client(headers=headers, timeout=30) as client:
        response = client.post(f"{base}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
