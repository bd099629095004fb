"""channels-redis's Pub/Sub layer (`CHANNEL_LAYER_BACKEND=pubsub`, the production kit's)
makes its own Redis pool, which the project cannot make a blocking one. It is bounded all
the same: each shard sends its commands one at a time under a lock of its own, so an
event loop holds at most two connections to Redis, the subscribing one and one for
commands, however many sends and joins are in flight (issue 19, point 2). This pins that
bound against a real Redis, with bursts far past REDIS_MAX_CONNECTIONS."""

import asyncio
import uuid

import redis
from channels_redis.pubsub import RedisPubSubChannelLayer

from tests.realtime.procs import REDIS_URL

WATCHERS = 200
SENDS = 500


def connections_named(name: str) -> int:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return sum(1 for entry in client.client_list() if entry.get("name") == name)
    finally:
        client.close()


def test_a_burst_of_joins_and_sends_holds_two_connections_per_event_loop():
    name = f"ak-pubsub-{uuid.uuid4().hex[:12]}"
    layer = RedisPubSubChannelLayer(
        hosts=[{"address": REDIS_URL, "client_name": name}], prefix=name
    )

    async def burst() -> tuple[int, list[int]]:
        channels = [await layer.new_channel() for _ in range(WATCHERS)]
        # Every watcher joins a group of its own and one shared group, all at once.
        await asyncio.gather(
            *(layer.group_add(f"own-{index}", channel) for index, channel in enumerate(channels)),
            *(layer.group_add("everyone", channel) for channel in channels),
        )
        await asyncio.gather(
            *(layer.group_send("everyone", {"type": "note", "n": n}) for n in range(SENDS // 2)),
            *(
                layer.group_send(f"own-{n % WATCHERS}", {"type": "note", "n": n})
                for n in range(SENDS // 2)
            ),
        )
        held = connections_named(name)
        heard = []
        for channel in channels[:5]:
            messages = 0
            while messages < SENDS // 2:
                await asyncio.wait_for(layer.receive(channel), 10)
                messages += 1
            heard.append(messages)
        await layer.flush()
        return held, heard

    held, heard = asyncio.run(burst())

    assert held <= 2, f"{held} connections to Redis from one event loop"
    assert held >= 1, "the layer's connections were not named: the count proves nothing"
    assert heard == [SENDS // 2] * 5, heard
    assert connections_named(name) == 0
