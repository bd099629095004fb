"""The embedded shape's in-process channel layer (`live.channel_layer`): the channel
layer contract the consumers rely on, and no sweep of every channel per receive."""

import asyncio

import channels.layers
import pytest
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer
from django.conf import settings
from redis.asyncio import BlockingConnectionPool

from core import groups
from live import channel_layer
from live.channel_layer import InMemoryChannelLayer
from live.redis_layer import RedisChannelLayer


class Clock:
    """Stands in for the `time` module in `live.channel_layer`: time moves only when told."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return 1_700_000_000.0 + self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(channel_layer, "time", fake)
    return fake


@pytest.fixture
def layer(clock) -> InMemoryChannelLayer:
    return InMemoryChannelLayer(expiry=60, group_expiry=3_600, capacity=5, sweep_interval=1.0)


async def nothing_on(layer, channel: str) -> bool:
    """True when no message is waiting on the channel."""
    state = layer.channels.get(channel)
    return state is None or not state.messages


async def test_the_project_uses_it_without_redis():
    if settings.REDIS_URL:
        layer = get_channel_layer()
        assert type(layer) is RedisChannelLayer
        # Its pools wait for a free connection (live/redis_layer.py), up to the settings.
        pool = layer.create_pool(0)
        assert isinstance(pool, BlockingConnectionPool)
        assert (pool.max_connections, pool.timeout) == (
            settings.REDIS_MAX_CONNECTIONS,
            settings.REDIS_POOL_TIMEOUT,
        )
        await pool.disconnect()
    else:
        assert type(get_channel_layer()) is InMemoryChannelLayer


async def test_a_message_sent_is_received_as_a_copy_of_its_own(layer):
    channel = await layer.new_channel()
    message = {"type": "note", "data": {"n": 1}}
    await layer.send(channel, message)
    message["data"]["n"] = 2  # the sender changing it afterwards changes nothing

    got = await layer.receive(channel)

    assert got == {"type": "note", "data": {"n": 1}}
    assert layer.channels == {}  # nothing kept for a channel with nothing waiting


async def test_a_waiting_receiver_gets_what_is_sent_later_in_order(layer):
    channel = await layer.new_channel()
    receiving = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0)
    await layer.send(channel, {"type": "note", "n": 1})
    await layer.send(channel, {"type": "note", "n": 2})

    assert (await receiving)["n"] == 1
    assert (await layer.receive(channel))["n"] == 2


async def test_two_receivers_on_one_channel_get_one_message_each(layer):
    channel = await layer.new_channel()
    first = asyncio.ensure_future(layer.receive(channel))
    second = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0)
    await layer.send(channel, {"type": "note", "n": 1})
    await layer.send(channel, {"type": "note", "n": 2})

    got = await asyncio.gather(first, second)

    assert sorted(message["n"] for message in got) == [1, 2]


async def test_a_cancelled_receiver_leaves_the_message_for_the_next(layer):
    channel = await layer.new_channel()
    leaving = asyncio.ensure_future(layer.receive(channel))
    staying = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0)
    await layer.send(channel, {"type": "note"})  # wakes `leaving`, first in line
    leaving.cancel()

    assert (await staying) == {"type": "note"}
    assert leaving.cancelled()
    assert layer.channels == {}


async def test_group_send_reaches_each_of_a_thousand_members_once(layer):
    members = [await layer.new_channel() for _ in range(1_000)]
    for channel in members:
        await layer.group_add("board-1", channel)
    await layer.group_discard("board-1", members[0])

    await layer.group_send("board-1", {"type": "board.event", "message": {"seq": 7}})

    assert await nothing_on(layer, members[0])
    for channel in members[1:]:
        assert await layer.receive(channel) == {"type": "board.event", "message": {"seq": 7}}
        assert await nothing_on(layer, channel)


async def test_each_member_gets_a_copy_of_its_own(layer):
    first, second = await layer.new_channel(), await layer.new_channel()
    for channel in (first, second):
        await layer.group_add("board-1", channel)
    await layer.group_send("board-1", {"type": "board.event", "message": {"seq": 1}})

    (await layer.receive(first))["message"]["seq"] = 99

    assert (await layer.receive(second))["message"]["seq"] == 1


async def test_a_group_left_by_its_last_member_is_gone(layer):
    channel = await layer.new_channel()
    await layer.group_add("board-1", channel)
    await layer.group_add("user-1", channel)
    await layer.group_discard("board-1", channel)
    await layer.group_discard("board-1", channel)  # twice is harmless

    assert set(layer.groups) == {"user-1"}
    assert layer.memberships == {channel: {"user-1"}}


async def test_a_full_channel_refuses_a_send_and_misses_a_group_send(layer):
    full, other = await layer.new_channel(), await layer.new_channel()
    for number in range(5):
        await layer.send(full, {"type": "note", "n": number})
    with pytest.raises(ChannelFull):
        await layer.send(full, {"type": "note", "n": 5})
    for channel in (full, other):
        await layer.group_add("board-1", channel)

    await layer.group_send("board-1", {"type": "note", "n": "group"})

    assert [(await layer.receive(full))["n"] for _ in range(5)] == [0, 1, 2, 3, 4]
    assert await nothing_on(layer, full)
    assert (await layer.receive(other))["n"] == "group"


async def test_channel_capacity_by_pattern(clock):
    layer = InMemoryChannelLayer(capacity=5, channel_capacity={"small.*": 1})
    await layer.send("small.one", {"type": "note"})
    with pytest.raises(ChannelFull):
        await layer.send("small.one", {"type": "note"})
    for _ in range(5):
        await layer.send("large.one", {"type": "note"})


async def test_an_expired_message_is_not_received_and_its_channel_leaves_its_groups(layer, clock):
    stale, fresh = await layer.new_channel(), await layer.new_channel()
    for channel in (stale, fresh):
        await layer.group_add("board-1", channel)
    await layer.send(stale, {"type": "note", "n": "old"})
    clock.now += 30
    await layer.send(stale, {"type": "note", "n": "new"})
    clock.now += 31  # the first is past its 60 s, the second is not

    assert (await layer.receive(stale))["n"] == "new"
    assert set(layer.groups["board-1"]) == {fresh}
    assert layer.memberships == {fresh: {"board-1"}}


async def test_the_sweep_drops_expired_messages_of_channels_nobody_reads(layer, clock):
    gone, reading = await layer.new_channel(), await layer.new_channel()
    for channel in (gone, reading):
        await layer.group_add("board-1", channel)
        await layer.group_add("user-1", channel)
    await layer.group_send("board-1", {"type": "note"})
    await layer.receive(reading)
    clock.now += 61

    await layer.group_send("board-1", {"type": "note", "n": 2})  # sweeps first

    assert gone not in layer.channels
    assert set(layer.groups["board-1"]) == {reading}
    assert set(layer.groups["user-1"]) == {reading}
    assert (await layer.receive(reading))["n"] == 2


async def test_memberships_older_than_group_expiry_end_and_renewed_ones_stay(layer, clock):
    old, renewed = await layer.new_channel(), await layer.new_channel()
    for channel in (old, renewed):
        await layer.group_add("board-1", channel)
    clock.now += 3_000
    await layer.group_add("board-1", renewed)  # as the heartbeat's catch-up does
    clock.now += 601

    await layer.group_send("board-1", {"type": "note"})

    assert set(layer.groups["board-1"]) == {renewed}
    assert await nothing_on(layer, old)
    assert await layer.receive(renewed) == {"type": "note"}


async def test_a_fan_out_does_not_sweep_once_per_receive(layer, clock, monkeypatch):
    """Channels' own layer sweeps every channel and membership on each receive and group
    send: a million steps for one event to 1,000 watchers (issue 18)."""
    sweeps = []
    sweep = layer._clean_expired
    monkeypatch.setattr(layer, "_clean_expired", lambda: sweeps.append(1) or sweep())
    members = [await layer.new_channel() for _ in range(1_000)]
    for channel in members:
        await layer.group_add("board-1", channel)
    receiving = [asyncio.ensure_future(layer.receive(channel)) for channel in members]
    await asyncio.sleep(0)

    await layer.group_send("board-1", {"type": "board.event"})
    await asyncio.gather(*receiving)
    clock.now += 1.5
    await layer.group_send("board-1", {"type": "board.event"})
    await asyncio.gather(*(layer.receive(channel) for channel in members))

    assert len(sweeps) == 1


async def test_flush_forgets_messages_and_groups_but_not_a_waiting_receiver(layer):
    waiting, other = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("board-1", waiting)
    await layer.send(other, {"type": "note"})
    receiving = asyncio.ensure_future(layer.receive(waiting))
    await asyncio.sleep(0)

    await layer.flush()

    assert layer.groups == {} and layer.memberships == {}
    assert await nothing_on(layer, other)
    await layer.send(waiting, {"type": "after"})
    assert await receiving == {"type": "after"}


def test_core_groups_sends_to_it_from_synchronous_code(clock):
    """`core.groups` reaches the in-process layer through `async_to_sync`, as for
    channels' own."""
    layer = InMemoryChannelLayer()

    async def join() -> str:
        channel = await layer.new_channel()
        await layer.group_add(groups.board_group_name(1), channel)
        return channel

    channel = asyncio.run(join())
    assert isinstance(layer, groups.InMemoryChannelLayer)  # channels' class
    manager = channels.layers.channel_layers
    saved = manager.backends.get("default")
    manager.backends["default"] = layer
    try:
        groups.group_send(groups.board_group_name(1), {"type": groups.BOARD_EVENT, "n": 1})
    finally:
        if saved is None:
            manager.backends.pop("default", None)
        else:
            manager.backends["default"] = saved

    assert asyncio.run(layer.receive(channel)) == {"type": groups.BOARD_EVENT, "n": 1}
