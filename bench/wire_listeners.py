"""Listen streams held by plain HTTP clients in processes of their own, for
`bench/mcp_agents.py --listen-clients wire`: each sends the same `subscriptions/listen`
request as the SDK's client (2026-07-28, stateless) and notes the wall-clock time at
which each `notifications/resources/updated` line reaches its socket.

Why: 500 SDK clients in the bench's one process parse every notification one after the
other (about 0.8 ms each on this machine), so the last listener's time measures that
queue, not the server. Real agents each parse in their own process."""

import json
import multiprocessing
import time
from dataclasses import dataclass

import anyio
import httpx2

UPDATED = b'"method":"notifications/resources/updated"'
ACKNOWLEDGED = b"subscriptions/acknowledged"


def listen_body(uri: str, number: int) -> bytes:
    return json.dumps(
        {
            "jsonrpc": "2.0",
            "id": f"listen-{number}",
            "method": "subscriptions/listen",
            "params": {
                "notifications": {"resourceSubscriptions": [uri]},
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
                    "io.modelcontextprotocol/clientCapabilities": {},
                },
            },
        },
        separators=(",", ":"),
    ).encode()


async def _hold(http, base: str, secret: str, uri: str, number: int, out: dict) -> None:
    headers = {
        "Authorization": f"Bearer {secret}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": "2026-07-28",
        "MCP-Method": "subscriptions/listen",
    }
    arrivals = out["arrivals"][number] = []
    try:
        async with http.stream(
            "POST", f"{base}/mcp", content=listen_body(uri, number), headers=headers
        ) as response:
            if response.status_code != 200:
                out["failures"][number] = f"HTTP {response.status_code}"
                return
            async for line in response.aiter_lines():
                raw = line.encode()
                if UPDATED in raw:
                    arrivals.append(time.time())
                elif ACKNOWLEDGED in raw:
                    out["ready"].add(number)
            out["failures"][number] = "the server ended the stream"
    except Exception as error:
        out["failures"][number] = repr(error)[:300]
    finally:
        out["ready"].add(number)


async def _serve(streams: list[tuple[int, str, str]], uri: str, pipe) -> None:
    out: dict = {"arrivals": {}, "failures": {}, "ready": set()}
    limits = httpx2.Limits(max_connections=None, max_keepalive_connections=None)
    timeout = httpx2.Timeout(60, read=3600)
    async with (
        httpx2.AsyncClient(limits=limits, timeout=timeout) as http,
        anyio.create_task_group() as group,
    ):
        gate = anyio.Semaphore(25)  # the listen backlog is small

        async def opened(number: int, base: str, secret: str) -> None:
            async with gate:
                group.start_soon(_hold, http, base, secret, uri, number, out)
                with anyio.move_on_after(30):
                    while number not in out["ready"]:
                        await anyio.sleep(0.01)

        async with anyio.create_task_group() as opening:
            for number, base, secret in streams:
                opening.start_soon(opened, number, base, secret)
        pipe.send("ready")
        await anyio.to_thread.run_sync(pipe.recv)  # told to stop
        pipe.send({"arrivals": out["arrivals"], "failures": out["failures"]})
        group.cancel_scope.cancel()


def _process(streams, uri, pipe) -> None:
    anyio.run(_serve, streams, uri, pipe)


@dataclass
class WireCrowd:
    """`count` listen streams spread over `processes` processes and over `bases` in turn."""

    bases: list[str]
    secrets: list[str]
    uri: str
    processes: int = 4

    def __post_init__(self) -> None:
        self._pipes, self._workers = [], []
        self.arrivals: dict[int, list[float]] = {}
        self.failures: dict[int, str] = {}

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        streams = [
            (number, self.bases[number % len(self.bases)], secret)
            for number, secret in enumerate(self.secrets)
        ]
        for share in range(self.processes):
            mine, theirs = context.Pipe()
            worker = context.Process(
                target=_process, args=(streams[share :: self.processes], self.uri, theirs)
            )
            worker.daemon = True
            worker.start()
            self._pipes.append(mine)
            self._workers.append(worker)

    def wait_open(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        for pipe in self._pipes:
            if not pipe.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError("listen streams did not open in time")
            assert pipe.recv() == "ready"

    def stop(self) -> None:
        for pipe in self._pipes:
            pipe.send("stop")
        for pipe in self._pipes:
            if pipe.poll(60):
                got = pipe.recv()
                self.arrivals.update(got["arrivals"])
                self.failures.update(got["failures"])
        for worker in self._workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
