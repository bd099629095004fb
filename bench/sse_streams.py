"""Server-sent event streams (`GET /api/boards/{id}/events`) held by plain HTTP clients
in processes of their own, for `bench/run --only sse`: each process opens its share of
the streams (bearer token, a few at a time), notes each answer's status and when the
stream's first bytes (`: connected`) arrive, then the wall-clock time at which each
`ticket_created` event reaches each stream.

Why processes of their own: the bench process times GET requests to the same daphne
meanwhile, and 500 streams read in its own event loop would put the clients' work into
those timings. As `bench/wire_listeners.py` does for MCP listen streams; its requests and
markers are MCP's, so this is its counterpart for the REST event stream.

A process is driven by JSON lines: it prints `{"ready": …}` once every stream of its share
has answered (or failed), then answers `{"heard": ticket_id}` with the arrivals of that
ticket's event so far, and `"stop"` by closing its streams and printing its last line."""

import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CONNECTED = ": connected"
OPENING_AT_ONCE = 10  # per process: daphne's listen backlog is small


async def _hold(client: httpx.AsyncClient, path: str, number: int, out: dict) -> None:
    try:
        async with client.stream("GET", path) as response:
            out["status"][number] = response.status_code
            if response.status_code != 200:
                return
            async for line in response.aiter_lines():
                if line == CONNECTED:
                    out["connected"][number] = time.time()
                elif line.startswith("data: "):
                    message = json.loads(line.removeprefix("data: "))
                    if message.get("event") == "ticket_created":
                        ticket = str(message["data"]["id"])
                        out["heard"].setdefault(ticket, {})[number] = time.time()
            out["failures"][number] = "the server ended the stream"
    except Exception as error:
        out["failures"][number] = repr(error)[:300]
    finally:
        out["done"].add(number)


async def _serve(base: str, token: str, board: int, numbers: list[int]) -> None:
    out: dict = {"status": {}, "connected": {}, "failures": {}, "heard": {}, "done": set()}
    path = f"/api/boards/{board}/events"
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    timeout = httpx.Timeout(60, read=3600)
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    gate = asyncio.Semaphore(OPENING_AT_ONCE)
    holding: list[asyncio.Task] = []

    def say(message) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=timeout
    ) as client:

        async def opened(number: int) -> None:
            async with gate:
                holding.append(asyncio.ensure_future(_hold(client, path, number, out)))
                deadline = time.monotonic() + 60
                while number not in out["connected"] and number not in out["done"]:
                    if time.monotonic() > deadline:
                        out["failures"].setdefault(number, "no first bytes within 60 s")
                        return
                    await asyncio.sleep(0.01)

        started = time.time()
        await asyncio.gather(*(opened(number) for number in numbers))
        say(
            {
                "ready": {
                    "started": started,
                    "status": out["status"],
                    "connected": out["connected"],
                    "failures": out["failures"],
                }
            }
        )
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            command = json.loads(line) if line.strip() else "stop"
            if command == "stop":
                break
            say({"heard": out["heard"].get(str(command["heard"]), {})})
        for task in holding:
            task.cancel()
        await asyncio.gather(*holding, return_exceptions=True)
    say({"stopped": {"failures": out["failures"]}})


@dataclass
class StreamCrowd:
    """`count` streams on `base`'s board `board`, spread over `processes` processes."""

    base: str
    token: str
    board: int
    count: int
    processes: int = 4
    workers: list[subprocess.Popen] = field(default_factory=list)

    def start(self) -> None:
        env = {**os.environ, "BENCH_SSE_TOKEN": self.token}
        for share in range(min(self.processes, self.count)):
            numbers = ",".join(map(str, range(share, self.count, self.processes)))
            command = [sys.executable, str(Path(__file__).resolve()), self.base]
            command += [str(self.board), numbers]
            self.workers.append(
                subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )

    def _ask(self, command) -> list[dict]:
        for worker in self.workers:
            worker.stdin.write(json.dumps(command) + "\n")
            worker.stdin.flush()
        return [self._read(worker) for worker in self.workers]

    @staticmethod
    def _read(worker: subprocess.Popen) -> dict:
        line = worker.stdout.readline()
        if not line:
            raise RuntimeError(f"a stream process ended (exit status {worker.wait()})")
        return json.loads(line)

    def wait_open(self) -> dict:
        """Every stream answered: statuses, failures and when the first bytes came."""
        ready = [self._read(worker)["ready"] for worker in self.workers]
        statuses: dict[str, int] = {}
        for share in ready:
            for status in share["status"].values():
                statuses[str(status)] = statuses.get(str(status), 0) + 1
        connected = [moment for share in ready for moment in share["connected"].values()]
        failures = {number: why for share in ready for number, why in share["failures"].items()}
        started = min(share["started"] for share in ready)
        return {
            "connected": len(connected),
            "statuses": statuses,
            "failures": dict(list(failures.items())[:10]),
            "failed": len(failures),
            "open_seconds": round(max(connected, default=started) - started, 2),
        }

    def heard(self, ticket: int) -> list[float]:
        """When the event of `ticket`'s creation reached each stream that has it."""
        return [
            moment for share in self._ask({"heard": ticket}) for moment in share["heard"].values()
        ]

    def stop(self) -> None:
        for worker in self.workers:
            try:
                worker.stdin.write('"stop"\n')
                worker.stdin.flush()
            except BrokenPipeError:
                pass
        # Imported here: the workers run this file as a script, without bench on the path.
        from bench.suite.servers import wait_or_kill

        wait_or_kill(self.workers)
        self.workers.clear()


if __name__ == "__main__":
    base, board, numbers = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    token = os.environ["BENCH_SSE_TOKEN"]
    asyncio.run(_serve(base, token, board, [int(number) for number in numbers.split(",")]))
