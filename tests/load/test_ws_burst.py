"""A burst of WebSocket connects on one daphne, on both channel layers: 1,000 connects at
250 a second all open (or are refused 4429 by the cap, never 1011), and once they all
close, no group membership is left behind.

With channels-redis's default pool, the 101st Redis command in flight raised "Too many
connections": 476 of 1,000 connects failed, and a mass close left members in Redis."""

import asyncio
import json
import time

import httpx
import pytest
import redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.load.conftest import Team
from tests.realtime.procs import REDIS_URL, channel_prefix, daphne_servers, process_env

CONNECTS = 1000
PER_SECOND = 250


@pytest.mark.parametrize("layer", ["redis", "in-memory"])
def test_a_burst_of_connects_opens_every_socket_and_leaves_no_group_behind(
    layer, team: Team, sqlite_team: Team, tmp_path
):
    prefix = channel_prefix()
    used = team if layer == "redis" else sqlite_team
    env = process_env(
        tmp_path,
        database=used.database,
        redis=REDIS_URL if layer == "redis" else None,
        CHANNEL_LAYER_PREFIX=prefix,
        WS_HEARTBEAT_SECONDS=3600,
    )
    try:
        with daphne_servers(1, env, tmp_path) as [daphne]:
            outcomes = asyncio.run(_burst(daphne.ws, used))
            assert outcomes == {"subscribed": CONNECTS}, outcomes
            assert _eventually(lambda: _open_sockets(daphne.http) == 0)
            if layer == "redis":
                assert _eventually(lambda: _group_members(prefix) == {}), _group_members(prefix)
            assert "Traceback" not in daphne.log.read_text(errors="replace"), daphne.log_tail()
    finally:
        store = redis.Redis.from_url(REDIS_URL)
        for key in store.keys(f"{prefix}:*"):
            store.delete(key)


async def _burst(base: str, team: Team) -> dict[str, int]:
    """Open CONNECTS sockets at PER_SECOND, hold them all open, then close them all:
    how each first answered (`subscribed`, or the close code it got)."""
    sockets = []
    outcomes: dict[str, int] = {}

    async def one(number: int) -> None:
        secret = team.secrets[number % len(team.secrets)]
        url = f"{base}/ws/connect?board_id={team.board_id}"
        try:
            socket = await connect(url, additional_headers={"Authorization": f"Bearer {secret}"})
            said = json.loads(await asyncio.wait_for(socket.recv(), timeout=60))
            outcome = said["type"]
            sockets.append(socket)
        except ConnectionClosed as closed:
            outcome = str(closed.rcvd.code if closed.rcvd else None)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1

    tasks = []
    for number in range(CONNECTS):
        tasks.append(asyncio.create_task(one(number)))
        await asyncio.sleep(1 / PER_SECOND)
    await asyncio.gather(*tasks)
    await asyncio.gather(*(socket.close() for socket in sockets))
    return outcomes


def _open_sockets(http: str) -> int:
    return httpx.get(f"{http}/api/health", timeout=10).json()["checks"]["websocket"]["open"]


def _group_members(prefix: str) -> dict[str, int]:
    store = redis.Redis.from_url(REDIS_URL)
    return {key.decode(): store.zcard(key) for key in store.keys(f"{prefix}:group:*")}


def _eventually(condition, patience: float = 60) -> bool:
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()
