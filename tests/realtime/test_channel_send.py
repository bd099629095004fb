"""Sending to a group from synchronous code over a real Redis channel layer: from a
plain thread, from a thread that runs an event loop of its own, and after a fork."""

import asyncio
import threading
import uuid

import pytest
from channels.layers import get_channel_layer

from core import groups as channel_send
from tests.realtime.procs import REDIS_URL

LAYERS = [
    "channels_redis.core.RedisChannelLayer",
    "channels_redis.pubsub.RedisPubSubChannelLayer",
]


@pytest.fixture(params=LAYERS)
def redis_layer(request, settings):
    # pytest-django's `settings` puts the project's layer back afterwards.
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": request.param,
            "CONFIG": {"hosts": [REDIS_URL], "prefix": f"test-send-{uuid.uuid4().hex[:8]}"},
        }
    }
    return get_channel_layer()


def received_from(layer, send) -> list[dict]:
    """Join a group, run `send` in a plain thread, and collect what reaches the group."""

    async def watch() -> list[dict]:
        channel = await layer.new_channel()
        await layer.group_add("watchers", channel)
        await asyncio.get_running_loop().run_in_executor(None, send)
        got = [await asyncio.wait_for(layer.receive(channel), 5)]
        got.append(await asyncio.wait_for(layer.receive(channel), 5))
        await layer.group_discard("watchers", channel)
        return got

    return asyncio.run(watch())


def test_a_plain_thread_sends_in_order_on_one_kept_loop(redis_layer):
    loops = []

    def send() -> None:
        for number in (1, 2):
            channel_send.group_send("watchers", {"type": "note", "number": number})
            loops.append(channel_send._sender_loop())

    got = received_from(redis_layer, send)

    assert [message["number"] for message in got] == [1, 2]
    assert loops[0] is loops[1] and loops[0].is_running()


def test_a_thread_running_its_own_event_loop_can_send(redis_layer):
    # async_to_sync refuses this ("cannot use AsyncToSync in the same thread as an
    # async event loop"); a browser test's Playwright loop is such a thread.
    def send() -> None:
        async def inside_a_loop() -> None:
            for number in (1, 2):
                channel_send.group_send("watchers", {"type": "note", "number": number})

        asyncio.run(inside_a_loop())

    assert [message["number"] for message in received_from(redis_layer, send)] == [1, 2]


def test_a_forked_process_starts_its_own_loop(redis_layer, monkeypatch):
    before = channel_send._sender_loop()
    # What a forked worker sees: the parent's loop object, whose thread it does not have.
    monkeypatch.setattr(channel_send, "_loop_pid", -1)
    after = channel_send._sender_loop()
    assert after is not before and after.is_running()
    assert threading.active_count() >= 2

    def send() -> None:
        for number in (1, 2):
            channel_send.group_send("watchers", {"type": "note", "number": number})

    assert [message["number"] for message in received_from(redis_layer, send)] == [1, 2]
