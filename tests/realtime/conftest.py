import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client

from agent_kanban.asgi import application

# Channels' default of 1 s is short for a disconnect that leaves Redis groups on a
# busy machine; past it the consumer is cancelled halfway.
DISCONNECT_SECONDS = 10


def bearer(secret: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {secret}".encode())]


@pytest.fixture
def secret(agent_with_token) -> str:
    return agent_with_token[1]


@pytest.fixture
def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest_asyncio.fixture
async def sockets():
    """Opens WebSocket connections to the real ASGI application; every one of them is
    disconnected when the test ends, whatever happened."""
    opened: list[WebsocketCommunicator] = []

    async def open_socket(path: str, headers=None) -> WebsocketCommunicator:
        socket = WebsocketCommunicator(application, path, headers=headers or [])
        opened.append(socket)
        connected, _ = await socket.connect()
        assert connected
        return socket

    yield open_socket
    for socket in opened:
        await socket.disconnect(timeout=DISCONNECT_SECONDS)
    # The thread that runs the consumers' queries keeps its connection (CONN_MAX_AGE);
    # close it so the test database can be flushed and dropped.
    await database_sync_to_async(connections.close_all)()


async def receive(socket, timeout: float = 5) -> dict:
    """The next message that is not a heartbeat."""
    while True:
        message = await socket.receive_json_from(timeout=timeout)
        if message.get("type") != "heartbeat":
            return message


async def receive_events(socket, count: int, timeout: float = 10) -> list[dict]:
    """The next `count` board events, skipping control messages."""
    events = []
    while len(events) < count:
        message = await receive(socket, timeout)
        if "event" in message:
            events.append(message)
    return events


async def closed_with(socket) -> int:
    """The close code the server sent, after any messages before it."""
    while True:
        output = await socket.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            return output.get("code")
