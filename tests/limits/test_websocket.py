"""WebSocket connect limits through the real ASGI application (in this process)."""

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections

from agent_kanban.asgi import application
from tests.factories import make_agent

pytestmark = [pytest.mark.ratelimits, pytest.mark.django_db(transaction=True)]


@pytest_asyncio.fixture(autouse=True)
async def close_connections():
    yield
    # The thread that ran the queries keeps its connection (CONN_MAX_AGE); close it so
    # the test database can be dropped.
    await database_sync_to_async(connections.close_all)()


def bearer(secret: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {secret}".encode())]


async def opens(headers) -> bool:
    socket = WebsocketCommunicator(application, "/ws/connect", headers=headers)
    connected, _ = await socket.connect()
    assert connected
    await socket.send_json_to({"type": "ping"})
    message = await socket.receive_json_from(timeout=5)
    if message.get("type") == "pong":
        await socket.disconnect(timeout=10)
        return True
    assert message["code"] == "rate_limited", message
    assert message["retry_after"] >= 1 and "WebSocket connections" in message["message"]
    closed = await socket.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4429}
    # Let the consumer hear the disconnect and finish; a consumer left running is
    # cancelled at the event loop's teardown, which can hang on the Redis layer.
    await socket.disconnect(timeout=10)
    return False


@pytest.fixture
def secrets():
    return make_agent("ws-one")[1], make_agent("ws-two")[1]


async def test_connects_over_the_limit_are_closed_with_4429(limits, secrets):
    limits.RATELIMIT_WS_CONNECT = "2/d"
    one, two = secrets
    assert [await opens(bearer(one)) for _ in range(3)] == [True, True, False]
    assert await opens(bearer(two))


async def test_anonymous_connects_count_per_address(limits):
    limits.RATELIMIT_WS_CONNECT = "1/d"
    socket = WebsocketCommunicator(application, "/ws/connect")
    connected, _ = await socket.connect()
    assert connected
    assert (await socket.receive_output(timeout=5))["code"] == 4401  # not signed in
    second = WebsocketCommunicator(application, "/ws/connect")
    await second.connect()
    assert (await second.receive_json_from(timeout=5))["code"] == "rate_limited"
    for each in (socket, second):
        await each.disconnect(timeout=10)


async def test_no_connect_limit_when_switched_off(limits, secrets):
    limits.RATELIMIT_WS_CONNECT = "1/d"
    limits.RATELIMIT_ENABLE = False
    assert [await opens(bearer(secrets[0])) for _ in range(3)] == [True, True, True]
