"""Heartbeats, closing silent clients, the per-instance cap, connection counts."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from rest_framework.test import APIClient

from live import realtime
from tests.realtime.conftest import DISCONNECT_SECONDS, bearer, closed_with, receive

pytestmark = pytest.mark.django_db(transaction=True)


async def test_heartbeats_keep_a_talking_client_and_close_a_silent_one(sockets, secret, settings):
    settings.WS_HEARTBEAT_SECONDS = 0.2
    talking = await sockets("/ws/connect", bearer(secret))
    silent = await sockets("/ws/connect", bearer(secret))
    closed_before = realtime.connections.closed_silent
    beats = 0
    for _ in range(8):  # 1.6 s: two silent periods of three heartbeats
        await asyncio.sleep(0.2)
        await talking.send_json_to({"type": "ping"})
        while not await talking.receive_nothing(timeout=0.01):
            beats += (await talking.receive_json_from())["type"] == "heartbeat"
    assert beats >= 4
    assert await closed_with(silent) == 4408
    assert realtime.connections.closed_silent == closed_before + 1
    await talking.send_json_to({"type": "ping"})
    assert await receive(talking) == {"type": "pong"}


async def test_connection_cap_per_instance(sockets, secret, settings):
    first = await sockets("/ws/connect", bearer(secret))
    await first.send_json_to({"type": "get_stats"})
    stats = await receive(first)
    settings.WS_MAX_CONNECTIONS = stats["open"]
    refused = await sockets("/ws/connect", bearer(secret))
    assert await closed_with(refused) == 4429
    await first.send_json_to({"type": "get_stats"})
    after = await receive(first)
    assert after["type"] == "stats"
    assert after["open"] == stats["open"]
    assert after["max_connections"] == stats["open"]
    assert after["refused_over_cap"] == stats["refused_over_cap"] + 1
    assert after["opened_total"] == stats["opened_total"]


async def test_counts_follow_connections_and_show_in_health(sockets, secret, board):
    def websocket_health() -> dict:
        response = APIClient().get("/api/health/")
        assert response.status_code == 200, response.content
        return response.json()["checks"]["websocket"]

    before = await sync_to_async(websocket_health)()
    assert before["status"] == "ok"
    sockets_open = [await sockets("/ws/connect", bearer(secret)) for _ in range(3)]
    await sockets_open[0].send_json_to({"type": "subscribe_board", "board_id": board.pk})
    await receive(sockets_open[0])
    await sockets_open[0].send_json_to({"type": "get_stats"})
    stats = await receive(sockets_open[0])
    assert stats["open"] == before["open"] + 3
    assert stats["boards"] == [board.pk]
    assert (await sync_to_async(websocket_health)())["open"] == before["open"] + 3
    for socket in sockets_open:
        await socket.disconnect(timeout=DISCONNECT_SECONDS)
    assert (await sync_to_async(websocket_health)())["open"] == before["open"]
    # Refused connections are never counted.
    anonymous = await sockets("/ws/connect")
    assert await closed_with(anonymous) == 4401
    assert (await sync_to_async(websocket_health)())["open"] == before["open"]


async def test_a_member_removed_while_watching_is_unsubscribed_within_a_heartbeat(
    sockets, user, board, settings
):
    from agents.services import agent_create
    from boards.services import membership_remove
    from tests.factories import add_member

    settings.WS_HEARTBEAT_SECONDS = 0.3
    issued = await sync_to_async(agent_create)(username="ws-watcher")
    await sync_to_async(add_member)(board, issued.token.user, "agent")
    socket = await sockets(f"/ws/connect?board_id={board.pk}", bearer(issued.secret))
    assert (await receive(socket))["type"] == "subscribed"
    await sync_to_async(membership_remove)(
        actor=user, board_id=board.pk, user_id=issued.token.user.pk
    )
    message = await receive(socket)
    assert message == {"type": "unsubscribed", "board_id": board.pk, "reason": "board_not_found"}
