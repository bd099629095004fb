"""The in-process channel layer of the embedded shape (one daphne, no Redis).

Channels' `InMemoryChannelLayer` sweeps every channel and every group membership for
expired entries on each `receive()` and `group_send()`. A board event wakes every
watcher, and each one calls `receive()` again, so one event to 1,000 watchers cost a
million-entry sweep per board group (three memberships per connection here: board,
user, token): over half of daphne's time in a fan-out (issue 18). This layer keeps its
contract (groups, flush, capacity, message expiry, group expiry, an expired message
dropping its channel from every group) and does the sweeping at most once every
`sweep_interval` seconds instead; a receiver drops its own expired messages as it
reads them.

Also cheaper per message: `group_send` copies the message once (pickled) and hands
each member its own unpickled copy when it reads it, where channels deep-copies it once
per member in a task per member; there is no `asyncio.Queue` made per `receive()`.

The class keeps channels' name (health reports `type(layer).__name__`) and is its
subclass, so `core.groups` still sends to it on the loop that serves its consumers.
"""

import asyncio
import copy
import pickle
import time
from collections import deque

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer


class _Channel:
    """The messages waiting on one channel, oldest first, and the receivers waiting."""

    __slots__ = ("capacity", "messages", "waiters")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        # (expires at on the monotonic clock, pickled message or None, message or None)
        self.messages: deque[tuple[float, bytes | None, dict | None]] = deque()
        self.waiters: deque[asyncio.Future] = deque()

    def wake_one(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


class InMemoryChannelLayer(ChannelsInMemoryChannelLayer):
    def __init__(
        self,
        expiry=60,
        group_expiry=86400,
        capacity=100,
        channel_capacity=None,
        sweep_interval=1.0,
        **kwargs,
    ):
        super().__init__(
            expiry=expiry,
            group_expiry=group_expiry,
            capacity=capacity,
            channel_capacity=channel_capacity,
            **kwargs,
        )
        # Channels leaves the patterns uncompiled, so `get_capacity` fails on any.
        self.channel_capacity = self.compile_capacities(channel_capacity or {})
        self.sweep_interval = sweep_interval
        self.channels: dict[str, _Channel] = {}
        # group -> {channel: joined at (wall clock, as channels keeps it)}
        self.groups: dict[str, dict[str, float]] = {}
        # channel -> the groups it is in, so an expired channel leaves them cheaply
        self.memberships: dict[str, set[str]] = {}
        self._next_sweep = time.monotonic() + sweep_interval

    # ------------------------------------------------------------ channels

    def _channel(self, name: str) -> _Channel:
        channel = self.channels.get(name)
        if channel is None:
            channel = self.channels[name] = _Channel(self.get_capacity(name))
        return channel

    def _put(self, name: str, expires: float, packed: bytes | None, message: dict | None) -> bool:
        """Queue the message on the channel; False if the channel is full."""
        channel = self._channel(name)
        if len(channel.messages) >= channel.capacity:
            return False
        channel.messages.append((expires, packed, message))
        channel.wake_one()
        return True

    @staticmethod
    def _pack(message: dict) -> tuple[bytes | None, dict | None]:
        """One copy of the message, made now, that each receiver copies again: pickled
        (cheap to copy), or deep-copied if it cannot be pickled."""
        try:
            return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL), None
        except Exception:
            return None, copy.deepcopy(message)

    async def send(self, channel, message):
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        now = time.monotonic()
        self._maybe_sweep(now)
        if not self._put(channel, now + self.expiry, *self._pack(message)):
            raise ChannelFull(channel)

    async def receive(self, channel):
        """The first message that arrives on the channel (one receiver at a time gets
        each message when several wait on the same channel)."""
        self.require_valid_channel_name(channel)
        self._maybe_sweep(time.monotonic())
        state = self._channel(channel)
        try:
            while True:
                if state.messages:
                    expires, packed, message = state.messages.popleft()
                    if expires < time.monotonic():
                        # As channels does: a message nobody read in time means a
                        # channel nobody reads; it leaves its groups.
                        self._remove_from_groups(channel)
                        continue
                    return pickle.loads(packed) if packed is not None else copy.deepcopy(message)
                waiter = asyncio.get_running_loop().create_future()
                state.waiters.append(waiter)
                try:
                    await waiter
                except BaseException:
                    if waiter.done() and not waiter.cancelled():
                        state.wake_one()  # woken but leaving: hand the wake-up on
                    elif waiter in state.waiters:
                        state.waiters.remove(waiter)
                    raise
        finally:
            if not state.messages and not state.waiters and self.channels.get(channel) is state:
                del self.channels[channel]

    # ------------------------------------------------------------ expiry

    def _maybe_sweep(self, now: float) -> None:
        if now >= self._next_sweep:
            self._next_sweep = now + self.sweep_interval
            self._clean_expired()

    def _clean_expired(self):
        """Drop expired messages (their channels leave every group) and memberships
        older than `group_expiry`. Run at most once every `sweep_interval` seconds."""
        now = time.monotonic()
        for name, channel in list(self.channels.items()):
            expired = False
            while channel.messages and channel.messages[0][0] < now:
                channel.messages.popleft()
                expired = True
            if expired:
                self._remove_from_groups(name)
            if not channel.messages and not channel.waiters:
                self.channels.pop(name, None)
        oldest = time.time() - self.group_expiry
        for group, members in list(self.groups.items()):
            for name, joined in list(members.items()):
                if joined < oldest:
                    self._leave(group, name)

    def _remove_from_groups(self, channel):
        for group in list(self.memberships.get(channel, ())):
            self._leave(group, channel)

    # ------------------------------------------------------------ groups

    def _leave(self, group: str, channel: str) -> None:
        members = self.groups.get(group)
        if members is not None:
            members.pop(channel, None)
            if not members:
                del self.groups[group]
        joined = self.memberships.get(channel)
        if joined is not None:
            joined.discard(group)
            if not joined:
                del self.memberships[channel]

    async def group_add(self, group, channel):
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        self.groups.setdefault(group, {})[channel] = time.time()
        self.memberships.setdefault(channel, set()).add(group)

    async def group_discard(self, group, channel):
        self.require_valid_channel_name(channel)
        self.require_valid_group_name(group)
        self._leave(group, channel)

    async def group_send(self, group, message):
        """Every member gets the message, except those whose channel is full."""
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        now = time.monotonic()
        self._maybe_sweep(now)
        members = self.groups.get(group)
        if not members:
            return
        packed, kept = self._pack(message)
        expires = now + self.expiry
        for channel in list(members):
            self._put(channel, expires, packed, kept)  # a full channel misses it

    # ------------------------------------------------------------ flush

    async def flush(self):
        """Forget every message and group. Receivers already waiting keep waiting, on
        channels that are now empty, and get what is sent to them next."""
        waiting = {name: channel for name, channel in self.channels.items() if channel.waiters}
        for channel in waiting.values():
            channel.messages.clear()
        self.channels = waiting
        self.groups = {}
        self.memberships = {}
