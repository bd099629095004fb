"""Writes made by other processes: delivered through Redis, and repaired from the log
when their push is lost (a writer whose channel layer reaches nobody)."""

import asyncio

import pytest
from channels.db import database_sync_to_async

from tests.factories import make_ticket
from tests.realtime.conftest import bearer, receive, receive_events
from tests.realtime.procs import (
    REDIS_URL,
    database_url,
    process_env,
    run_django,
    use_redis_layer,
)

pytestmark = pytest.mark.django_db(transaction=True)

WRITE = """
from agents.models import User
from tickets.services import ticket_create
actor = User.objects.get(pk={user_id})
result = [
    ticket_create(actor=actor, board_id={board_id}, title=f"{prefix} {{n}}").pk
    for n in range({count})
]
"""


def write_elsewhere(env: dict, *, user, board, count: int, prefix: str) -> list[int]:
    code = WRITE.format(user_id=user.pk, board_id=board.pk, count=count, prefix=prefix)
    return run_django(code, env)


async def test_write_in_another_process_reaches_the_client(
    sockets, secret, user, board, settings, tmp_path
):
    prefix = use_redis_layer(settings)
    settings.WS_HEARTBEAT_SECONDS = 3600  # only the push can deliver within the test
    socket = await sockets(f"/ws/connect?board_id={board.pk}", bearer(secret))
    assert (await receive(socket))["type"] == "subscribed"
    env = process_env(
        tmp_path, database=database_url(), redis=REDIS_URL, CHANNEL_LAYER_PREFIX=prefix
    )
    ids = await asyncio.to_thread(
        write_elsewhere, env, user=user, board=board, count=3, prefix="Remote"
    )
    events = await receive_events(socket, 3, timeout=15)
    assert [e["seq"] for e in events] == [2, 3, 4]
    assert [e["data"]["id"] for e in events] == ids
    assert [e["data"]["title"] for e in events] == ["Remote 0", "Remote 1", "Remote 2"]


async def test_lost_pushes_are_read_from_the_log_when_the_next_event_shows_a_gap(
    sockets, secret, user, board, settings, tmp_path
):
    settings.WS_HEARTBEAT_SECONDS = 3600  # no catch-up by heartbeat: the gap must do it
    socket = await sockets(f"/ws/connect?board_id={board.pk}", bearer(secret))
    await receive(socket)
    # The writer's in-memory channel layer reaches no one: its pushes are lost.
    env = process_env(tmp_path, database=database_url())
    await asyncio.to_thread(write_elsewhere, env, user=user, board=board, count=2, prefix="Lost")
    assert await socket.receive_nothing(timeout=0.5)
    await database_sync_to_async(make_ticket)(user, board, "Pushed")
    events = await receive_events(socket, 3)
    assert [e["seq"] for e in events] == [2, 3, 4]
    assert [e["data"]["title"] for e in events] == ["Lost 0", "Lost 1", "Pushed"]
    assert await socket.receive_nothing(timeout=0.3)


async def test_lost_push_of_the_latest_event_arrives_with_a_heartbeat(
    sockets, secret, user, board, settings, tmp_path
):
    settings.WS_HEARTBEAT_SECONDS = 0.3
    socket = await sockets(f"/ws/connect?board_id={board.pk}", bearer(secret))
    await receive(socket)
    env = process_env(tmp_path, database=database_url())
    writer = asyncio.create_task(
        asyncio.to_thread(write_elsewhere, env, user=user, board=board, count=2, prefix="Lost")
    )
    events = []
    for _ in range(100):  # up to 20 s; the client pings, so it is not closed as silent
        await socket.send_json_to({"type": "ping"})
        while not await socket.receive_nothing(timeout=0.2) and len(events) < 2:
            message = await socket.receive_json_from()
            events += [message] if "event" in message else []
        if len(events) == 2:
            break
    await writer
    assert [(e["seq"], e["data"]["title"]) for e in events] == [(2, "Lost 0"), (3, "Lost 1")]
