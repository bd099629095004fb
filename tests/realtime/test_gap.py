"""A client that keeps dropping and resuming its connection during a stream of writes
ends with every event exactly once, in order."""

import asyncio
import random
import time

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from comments.services import comment_create
from tests.factories import make_ticket
from tests.realtime.conftest import DISCONNECT_SECONDS, bearer

pytestmark = pytest.mark.django_db(transaction=True)

WRITES = 1000
# The writer stays at most this many events ahead of the client, so the writes go on
# for the client's whole life, however fast either side runs on the machine.
AHEAD = 60


def write_all(user, ticket, seen: list[int]) -> None:
    # Comments: the cheapest write that appends a board event, so the test stays short.
    try:
        for number in range(WRITES):
            deadline = time.monotonic() + 60
            while number - len(seen) > AHEAD:
                assert time.monotonic() < deadline, "the client stopped reading"
                time.sleep(0.002)
            comment_create(actor=user, ticket_id=ticket.pk, text=f"C{number}")
    finally:
        connection.close()  # this worker thread's own connection


async def test_reconnecting_client_gets_every_event_once_in_order(sockets, secret, user, board):
    ticket = await sync_to_async(make_ticket)(user, board)  # seq 2, after board_created
    seen: list[int] = []
    # Runs in a worker thread while the client works on the event loop; each write's
    # push comes back to this loop, as it does in a server.
    writer = asyncio.create_task(
        sync_to_async(write_all, thread_sensitive=False)(user, ticket, seen)
    )
    rng = random.Random(3)
    last, connections, during_writes = 2, 0, 0
    while len(seen) < WRITES:
        socket = await sockets(f"/ws/connect?board_id={board.pk}&since={last}", bearer(secret))
        connections += 1
        during_writes += not writer.done()
        # Leave after a few events, at a random point of the replay or the live stream.
        for _ in range(rng.randint(1, 40)):
            message = await socket.receive_json_from(timeout=30)
            if "event" in message:
                seen.append(message["seq"])
                last = message["seq"]
            if len(seen) == WRITES:
                break
        await socket.disconnect(timeout=DISCONNECT_SECONDS)
    await writer
    assert during_writes > 30, (connections, during_writes)
    assert seen == list(range(3, WRITES + 3))
