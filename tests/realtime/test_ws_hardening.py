"""No client can lock an instance out of WebSockets: a message too big or too many
messages are answered with close codes daphne sends (4413, 4429; daphne refuses any
code but 1000 and 3000-4999, and a refused one crashed the consumer, so the client saw
1011 and the connection's slot was never given back), and however a connection ends,
its slot is released and its channel-layer group memberships are discarded.

The codes are what a real daphne sends: the in-process communicator checks none, so the
first test runs a daphne process, with the Redis channel layer to look at the groups.
The second takes one connection through every way it can end, in process."""

import json
import time
from contextlib import ExitStack

import httpx
import pytest
import redis
import redis.asyncio
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connections
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from agent_kanban.asgi import application
from core import groups
from live import realtime
from tests.realtime.conftest import bearer, receive
from tests.realtime.procs import (
    REDIS_URL,
    channel_prefix,
    daphne_servers,
    database_url,
    process_env,
)

pytestmark = pytest.mark.django_db(transaction=True)

CAP = 5
MAX_BYTES = 1000
PER_MINUTE = 5
CLOSE_TOO_BIG = 4413
CLOSE_TOO_MANY = 4429
# How long the server may take to act on a close before the test gives up waiting:
# a wait, not a measure; the conditions it waits for are asserted after it.
PATIENCE = 30
OVERSIZE = json.dumps({"type": "ping", "pad": "x" * (MAX_BYTES + 1)})
PING = json.dumps({"type": "ping"})


def server_env(tmp_path, prefix: str) -> dict:
    return process_env(
        tmp_path,
        database=database_url(),
        redis=REDIS_URL,
        CHANNEL_LAYER_PREFIX=prefix,
        WS_MAX_CONNECTIONS=CAP,
        WS_MAX_MESSAGE_BYTES=MAX_BYTES,
        WS_MAX_MESSAGES_PER_MINUTE=PER_MINUTE,
        WS_HEARTBEAT_SECONDS=3600,  # no heartbeat renews or drops anything meanwhile
    )


def said_until_closed(socket) -> tuple[list[dict], int | None]:
    """Every message until the server closes, then the close code it sent."""
    said = []
    try:
        while True:
            said.append(json.loads(socket.recv(timeout=15)))
    except ConnectionClosed as closed:
        return said, closed.rcvd.code if closed.rcvd else None


def group_members(prefix: str) -> dict[str, int]:
    """The channel-layer groups under `prefix` in Redis, with their member counts."""
    store = redis.Redis.from_url(REDIS_URL)
    keys = store.keys(f"{prefix}:group:*")
    return {key.decode(): store.zcard(key) for key in keys if store.zcard(key)}


def open_connections(server) -> int:
    return httpx.get(f"{server.http}/api/health", timeout=10).json()["checks"]["websocket"]["open"]


def wait_for(condition) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.fixture
def prefix():
    """A channel-layer prefix of the test's own; its keys go when the test ends."""
    prefix = channel_prefix()
    yield prefix
    store = redis.Redis.from_url(REDIS_URL)
    for key in store.keys(f"{prefix}:*"):
        store.delete(key)


def subscribed(stack: ExitStack, server, path: str, auth: dict):
    socket = stack.enter_context(connect(server.ws + path, additional_headers=auth))
    said = json.loads(socket.recv(timeout=15))
    assert said["type"] == "subscribed", said
    return socket


def test_oversize_and_flooding_clients_get_their_codes_and_give_back_their_slots(
    secret, board, prefix, tmp_path
):
    auth = {"Authorization": f"Bearer {secret}"}
    path = f"/ws/connect?board_id={board.pk}"
    with ExitStack() as stack:
        (server,) = stack.enter_context(daphne_servers(1, server_env(tmp_path, prefix), tmp_path))
        for _round in range(2):  # twice the cap in all: the first round gave everything back
            sockets = [subscribed(stack, server, path, auth) for _ in range(CAP)]
            board_group = f"{prefix}:group:{groups.board_group_name(board.pk)}"
            assert group_members(prefix)[board_group] == CAP
            for socket in sockets[:3]:
                socket.send(OVERSIZE)
            for socket in sockets[3:]:
                for _ in range(PER_MINUTE + 1):
                    socket.send(PING)
            for socket in sockets[:3]:
                said, code = said_until_closed(socket)
                assert [m["code"] for m in said] == ["message_too_large"]
                assert code == CLOSE_TOO_BIG, server.log_tail()
            for socket in sockets[3:]:
                said, code = said_until_closed(socket)
                assert said[:PER_MINUTE] == [{"type": "pong"}] * PER_MINUTE
                assert [m["code"] for m in said[PER_MINUTE:]] == ["rate_limited"]
                assert code == CLOSE_TOO_MANY, server.log_tail()
            wait_for(lambda: open_connections(server) == 0 and not group_members(prefix))
            assert open_connections(server) == 0
            assert group_members(prefix) == {}

        # The cap is still there, and still counts right.
        sockets = [subscribed(stack, server, path, auth) for _ in range(CAP)]
        for socket in sockets:
            socket.send(PING)
            assert json.loads(socket.recv(timeout=15)) == {"type": "pong"}
        with connect(server.ws + path, additional_headers=auth) as refused:
            assert said_until_closed(refused) == ([], CLOSE_TOO_MANY)
        for socket in sockets:
            socket.close()
        wait_for(lambda: open_connections(server) == 0 and not group_members(prefix))
        assert open_connections(server) == 0
        assert group_members(prefix) == {}
        assert "Traceback" not in server.log.read_text(errors="replace")


# ---------------------------------------------------------------- in process


async def members(group: str) -> set[str]:
    """The channels in `group`, in whichever channel layer this pass runs."""
    layer = get_channel_layer()
    if hasattr(layer, "groups"):  # the in-memory layer
        return set(layer.groups.get(group, {}))
    store = redis.asyncio.Redis.from_url(layer.hosts[0]["address"])
    try:
        return {name.decode() for name in await store.zrange(layer._group_key(group), 0, -1)}
    finally:
        await store.aclose()


async def test_every_way_a_connection_ends_gives_back_its_slot_and_groups(
    agent_with_token, board, settings
):
    settings.WS_MAX_MESSAGE_BYTES = MAX_BYTES
    user, secret = agent_with_token
    token = await database_sync_to_async(user.api_tokens.get)()
    names = [
        groups.board_group_name(board.pk),
        groups.user_group_name(user.pk),
        groups.token_group_name(token.pk),
    ]
    before = {name: await members(name) for name in names}
    slots = realtime.connections.open
    path = f"/ws/connect?board_id={board.pk}"

    async def opened() -> WebsocketCommunicator:
        socket = WebsocketCommunicator(application, path, headers=bearer(secret))
        connected, _ = await socket.connect()
        assert connected
        assert (await receive(socket))["type"] == "subscribed"
        for name in names:
            assert len(await members(name)) == len(before[name]) + 1
        assert realtime.connections.open == slots + 1
        return socket

    async def given_back() -> None:
        assert realtime.connections.open == slots
        assert {name: await members(name) for name in names} == before

    try:
        # The client closes.
        socket = await opened()
        await socket.disconnect(code=1000)
        await given_back()
        # The connection drops without a close frame.
        socket = await opened()
        await socket.disconnect(code=1006)
        await given_back()
        # The server closes: a message too big.
        socket = await opened()
        await socket.send_to(text_data=OVERSIZE)
        assert (await receive(socket))["code"] == "message_too_large"
        assert (await socket.receive_output(timeout=5))["code"] == CLOSE_TOO_BIG
        await socket.disconnect(code=CLOSE_TOO_BIG)
        await given_back()
        # The consumer is cancelled, as daphne does at shutdown or to one slow to end:
        # no disconnect message comes.
        socket = await opened()
        socket.future.cancel()
        await socket.future  # it ends, not cancelled, once it has given everything back
        await given_back()
    finally:
        await database_sync_to_async(connections.close_all)()
