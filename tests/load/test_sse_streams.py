"""Many server-sent event streams on one daphne (PostgreSQL + Redis, the production
shape), its pool a few connections: every stream opens and hears a write pushed through
the channel layer, the streams hold no database connection between reads, the server
still answers a GET meanwhile, a stream past `SSE_MAX_STREAMS` is refused 429, and a
closed stream gives its place back.

Before the streams were pushed from the channel layer, each one polled the log from a
thread of its own holding a connection: with a pool of 4, the fifth stream waited for a
connection and was answered 503."""

import asyncio
import json
import time
from contextlib import AsyncExitStack

import httpx

from tests.load.conftest import Team, backends
from tests.realtime.procs import REDIS_URL, channel_prefix, daphne_servers, process_env

STREAMS = 300
POOL = 4


def test_many_streams_share_a_small_pool_and_the_server_keeps_answering(team: Team, tmp_path):
    env = process_env(
        tmp_path,
        database=team.database,
        redis=REDIS_URL,
        CHANNEL_LAYER_PREFIX=channel_prefix(),
        DATABASE_POOL_MIN=1,
        DATABASE_POOL_MAX=POOL,
        SSE_MAX_STREAMS=STREAMS,
        SSE_HEARTBEAT_SECONDS=30,
    )
    with daphne_servers(1, env, tmp_path) as [daphne]:
        asyncio.run(_scenario(daphne.http, team))


def _auth(team: Team, number: int) -> dict:
    return {"Authorization": f"Bearer {team.secrets[number % len(team.secrets)]}"}


async def _open(client: httpx.AsyncClient, stack: AsyncExitStack, url: str, headers: dict):
    """A stream that has said it is connected: (its response, its lines)."""
    response = await stack.enter_async_context(client.stream("GET", url, headers=headers))
    assert response.status_code == 200, (response.status_code, await response.aread())
    lines = response.aiter_lines()
    async for line in lines:
        if line == ": connected":
            return response, lines
    raise AssertionError("the stream ended before it said it was connected")


async def _next_event(lines) -> dict:
    async for line in lines:
        if line.startswith("data: "):
            return json.loads(line.removeprefix("data: "))
    raise AssertionError("the stream ended")


async def _scenario(base: str, team: Team) -> None:
    url = f"/api/boards/{team.board_id}/events"
    limits = httpx.Limits(max_connections=STREAMS + 20, max_keepalive_connections=20)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        async with AsyncExitStack() as stack:
            opened = await asyncio.wait_for(
                asyncio.gather(
                    *(_open(client, stack, url, _auth(team, n)) for n in range(STREAMS))
                ),
                timeout=120,
            )
            assert len(opened) == STREAMS

            # Open streams hold no connection: the pool is all there is, and it is free.
            assert backends(team.name) <= POOL
            board = await client.get(f"/api/boards/{team.board_id}", headers=_auth(team, 0))
            assert board.status_code == 200, board.text

            over = await client.get(url, headers=_auth(team, 1))
            assert over.status_code == 429, over.text
            assert over.json()["error"]["code"] == "too_many_streams"

            created = await client.post(
                "/api/tickets/",
                json={"board_id": team.board_id, "title": "Heard by every stream"},
                headers=_auth(team, 2),
            )
            assert created.status_code == 201, created.text
            heard = await asyncio.wait_for(
                asyncio.gather(*(_next_event(lines) for _, lines in opened)), timeout=60
            )
            assert {(event["event"], event["data"]["id"]) for event in heard} == {
                ("ticket_created", created.json()["id"])
            }
            assert backends(team.name) <= POOL

        # Every stream is closed: the places are given back.
        deadline = time.monotonic() + 30
        while True:
            async with client.stream("GET", url, headers=_auth(team, 3)) as response:
                if response.status_code == 200:
                    break
                assert response.status_code == 429, response.status_code
            assert time.monotonic() < deadline, "closed streams kept their places"
            await asyncio.sleep(0.2)
