"""Rate limits on real daphne processes: two instances sharing one Redis share their
counts, WebSocket connects are limited, and MCP tool calls that write count as writes.

These fail, never skip, when Redis is down: the SQLite pass runs without REDIS_URL, so
the servers are pointed at a Redis of their own here."""

import json
import os
import uuid

import httpx
import pytest
import redis
from channels.db import database_sync_to_async
from django.db import connections
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.factories import make_agent, make_board
from tests.mcp.helpers import data, http_session
from tests.realtime.procs import channel_prefix, daphne_servers, database_url, process_env

pytestmark = [pytest.mark.ratelimits, pytest.mark.django_db(transaction=True)]

LIMITS_REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/3"
ALL_OFF = {
    "RATELIMIT_PER_IP": "off",
    "RATELIMIT_WRITE": "off",
    "RATELIMIT_BULK": "off",
    "RATELIMIT_LOGIN": "off",
    "RATELIMIT_WS_CONNECT": "off",
}


@pytest.fixture
def shared_redis():
    """A cache key prefix of this test's own in the shared Redis; its keys are deleted
    when the test ends."""
    client = redis.Redis.from_url(LIMITS_REDIS_URL)
    client.ping()  # Redis down: fail here, plainly
    prefix = f"ak-limits-{uuid.uuid4().hex[:12]}"
    yield prefix
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)
    client.close()


def server_env(tmp_path, **rates) -> dict:
    return process_env(
        tmp_path,
        database=database_url(),
        RATELIMIT_ENABLE="true",
        CHANNEL_LAYER_PREFIX=channel_prefix(),
        **{**ALL_OFF, **rates},
    )


def post_board(server, secret: str, name: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {secret}"}
    return httpx.post(
        f"{server.http}/api/boards/", json={"name": name}, headers=headers, timeout=30
    )


def ws_connect(server, secret: str):
    return connect(
        f"{server.ws}/ws/connect", additional_headers={"Authorization": f"Bearer {secret}"}
    )


def assert_refused_429(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) == error["retry_after"] >= 1


def test_two_instances_sharing_redis_share_the_counts(shared_redis, tmp_path):
    _, secret = make_agent("shared-agent")
    _, other_secret = make_agent("other-agent")
    env = server_env(
        tmp_path,
        redis=LIMITS_REDIS_URL,
        CACHE_KEY_PREFIX=shared_redis,
        RATELIMIT_WRITE="5/d",
        RATELIMIT_WS_CONNECT="2/d",
    )
    with daphne_servers(2, env, tmp_path) as (a, b):
        # Five writes, spread over both instances, use up the one count of five.
        for number, server in enumerate([a, b, a, b, a]):
            created = post_board(server, secret, f"Board {number}")
            assert created.status_code == 201, created.text
        assert_refused_429(post_board(b, secret, "Sixth via B"))
        assert_refused_429(post_board(a, secret, "Sixth via A"))
        assert post_board(b, other_secret, "Someone else").status_code == 201

        # WebSocket connects: one on each instance, then the third is refused on either.
        with ws_connect(a, secret) as first, ws_connect(b, secret) as second:
            for socket in (first, second):
                socket.send(json.dumps({"type": "ping"}))
                assert json.loads(socket.recv(timeout=15))["type"] == "pong"
            with ws_connect(a, secret) as third:
                refusal = json.loads(third.recv(timeout=15))
                assert refusal["code"] == "rate_limited" and refusal["retry_after"] >= 1
                with pytest.raises(ConnectionClosed) as closed:
                    third.recv(timeout=15)
                assert closed.value.rcvd.code == 4429
            with ws_connect(b, other_secret) as elsewhere:
                elsewhere.send(json.dumps({"type": "ping"}))
                assert json.loads(elsewhere.recv(timeout=15))["type"] == "pong"


async def test_mcp_write_tool_calls_count_as_writes(tmp_path):
    @database_sync_to_async
    def seed():
        agent, secret = make_agent("mcp-counted")
        return secret, make_board(agent, "MCP board").pk

    secret, board_id = await seed()
    env = server_env(tmp_path, RATELIMIT_WRITE="2/d")
    with daphne_servers(1, env, tmp_path) as (server,):
        async with http_session(server.http, secret) as session:
            for _ in range(3):  # reads do not count
                data(await session.call_tool("list_boards", {}))
            for number in range(2):
                arguments = {"board_id": board_id, "title": f"Task {number}"}
                data(await session.call_tool("create_task", arguments))
        headers = {
            "Authorization": f"Bearer {secret}",
            "Accept": "application/json, text/event-stream",
        }
        call = {
            "jsonrpc": "2.0",
            "id": 7,
            "method": "tools/call",
            "params": {"name": "create_task", "arguments": {"board_id": board_id, "title": "3"}},
        }
        async with httpx.AsyncClient(timeout=30) as http:
            assert_refused_429(await http.post(f"{server.http}/mcp", json=call, headers=headers))
            # The REST API draws on the same count.
            rest = await http.post(
                f"{server.http}/api/boards/", json={"name": "REST"}, headers=headers
            )
            assert_refused_429(rest)
        async with http_session(server.http, secret) as session:
            assert data(await session.call_tool("list_boards", {}))["items"]
    await database_sync_to_async(connections.close_all)()
