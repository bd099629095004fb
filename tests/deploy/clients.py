"""Clients that watch a board through nginx the way the README tells clients to: keep
the last sequence number seen, and when the connection drops, reconnect with it."""

import json
import ssl
import time
from collections.abc import Iterator

import httpx
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect


class Watcher:
    """Events received, in order, and how often the connection had to be remade."""

    def __init__(self, board_id: int, since: int) -> None:
        self.board_id, self.last = board_id, since
        self.events: list[dict] = []
        self.reconnects = 0

    def take(self, event: dict) -> None:
        self.events.append(event)
        self.last = event["seq"]

    @property
    def seqs(self) -> list[int]:
        return [event["seq"] for event in self.events]


class WebSocketWatcher(Watcher):
    def __init__(self, base: str, tls: ssl.SSLContext, board_id: int, since: int, headers: dict):
        super().__init__(board_id, since)
        self.base, self.tls, self.headers = base.replace("https://", "wss://"), tls, headers
        self.socket = self._connect()

    def _connect(self) -> ClientConnection:
        url = f"{self.base}/ws/connect?board_id={self.board_id}&since={self.last}"
        opened = connect(url, ssl=self.tls, additional_headers=self.headers, open_timeout=15)
        socket = opened.__enter__()
        # The replay of what was missed comes first, then `subscribed`.
        while True:
            message = json.loads(socket.recv(timeout=15))
            if "event" in message:
                self.take(message)
            elif message.get("type") == "subscribed":
                return socket
            else:
                assert message.get("type") == "heartbeat", message

    def collect_until(self, seq: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.last < seq:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"WebSocket stopped at {self.last}, waiting for {seq}"
            try:
                message = json.loads(self.socket.recv(timeout=remaining))
            except ConnectionClosed:
                self.reconnects += 1
                self.socket = self._connect()
                continue
            if "event" in message:
                self.take(message)

    def instance_stats(self) -> dict:
        """`get_stats` of the daphne instance this socket is on."""
        self.socket.send(json.dumps({"type": "get_stats"}))
        while True:
            message = json.loads(self.socket.recv(timeout=15))
            if "event" in message:
                self.take(message)
            elif message.get("type") == "stats":
                return message

    def close(self) -> None:
        self.socket.close()


class SseWatcher(Watcher):
    """EventSource's behaviour: on a dropped stream, ask again with Last-Event-ID."""

    def __init__(self, base: str, tls: ssl.SSLContext, board_id: int, since: int, headers: dict):
        super().__init__(board_id, since)
        self.client = httpx.Client(base_url=base, verify=tls, headers=headers)
        self.timeout = httpx.Timeout(10, read=20)
        self.frames = self._open()

    def _open(self) -> Iterator[dict]:
        stream = self.client.stream(
            "GET",
            f"/api/boards/{self.board_id}/events",
            headers={"Last-Event-ID": str(self.last), "Accept": "text/event-stream"},
            timeout=self.timeout,
        )
        response = stream.__enter__()
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        self.response, self.stream = response, stream
        return self._frames(response)

    @staticmethod
    def _frames(response: httpx.Response) -> Iterator[dict]:
        frame: dict = {}
        for line in response.iter_lines():
            if line == "":
                if "data" in frame:
                    yield json.loads(frame["data"])
                frame = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                frame[name] = value.removeprefix(" ")

    def collect_until(self, seq: int) -> None:
        while self.last < seq:
            try:
                event = next(self.frames)
            except (StopIteration, httpx.RemoteProtocolError, httpx.ReadError):
                self.stream.__exit__(None, None, None)
                self.reconnects += 1
                self.frames = self._open()
                continue
            self.take(event)

    def close(self) -> None:
        self.stream.__exit__(None, None, None)
        self.client.close()


async def mcp_call(base: str, tls: ssl.SSLContext, token: str, calls: list) -> list[dict]:
    """One MCP session over streamable HTTP through nginx (the official SDK client);
    `calls` are (tool, arguments) pairs; returns each result's structured content."""
    headers = {"Authorization": f"Bearer {token}"}
    results = []
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30), verify=tls) as http,
        streamable_http_client(f"{base}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        for tool, arguments in calls:
            result = await session.call_tool(tool, arguments)
            assert not result.is_error, result.content
            results.append(result.structured_content)
    return results
