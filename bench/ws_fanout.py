"""Fan-out of one board event to many WebSocket clients on one daphne instance.

    python bench/ws_fanout.py                        # 1,000 clients, 20 events, SQLite
    python bench/ws_fanout.py --clients 500 --rounds 10
    python bench/ws_fanout.py --redis-url redis://127.0.0.1:6379/14   # Redis channel layer

It builds a throwaway SQLite database through the services, serves it with daphne on
a free port, and opens --clients WebSocket connections that all watch one board. It
reads the server's resident memory before and after, so the difference divided by
the number of connections is the memory of one idle connection. Then it creates a
ticket through the REST API --rounds times, one at a time, and every client notes
when the event arrives. Latency is measured from the event's own timestamp (taken
inside the writer's transaction, just before the commit) to its arrival at a client:
commit, group send, every consumer and the socket. Server and clients share this
machine's cores, so the clients' own work is part of the figure. Reported, not
asserted. Prints a table and writes JSON to bench/results/. Stops by itself.
"""

import argparse
import asyncio
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def raise_open_files_limit(needed: int) -> int:
    """Each client holds a socket here and one in the server (a child inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


def seed(env: dict) -> dict:
    """Migrate the fresh database and make an agent (with a token) and a board."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from agents.services import agent_create
    from boards.services import board_create

    call_command("migrate", verbosity=0)
    issued = agent_create(username="bench-fanout")
    board = board_create(actor=issued.token.user, name="Fan-out")
    connections.close_all()
    return {"secret": issued.secret, "board_id": board.pk}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def start_server(env: dict, port: int, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(
        [*command, "agent_kanban.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"daphne did not start:\n{log.read_text()[-2000:]}")


class Client:
    """One watcher: notes when each event (by sequence number) arrives."""

    def __init__(self) -> None:
        self.arrivals: dict[int, float] = {}
        self.subscribed = asyncio.Event()
        self.seq = 0

    async def run(self, url: str, stop: asyncio.Event) -> None:
        async with connect(url, ping_interval=None, open_timeout=60, max_queue=None) as ws:
            reader = asyncio.ensure_future(self.read(ws))
            await stop.wait()
            reader.cancel()

    async def read(self, ws) -> None:
        async for raw in ws:
            arrived = time.time()
            message = json.loads(raw)
            if "seq" in message and "event" in message:
                self.arrivals[message["seq"]] = arrived
            elif message.get("type") == "subscribed":
                self.seq = message.get("seq") or 0
                self.subscribed.set()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def measure(
    args, server: subprocess.Popen, port: int, seeded: dict, http_base: str | None = None
) -> dict:
    """`http_base` is where the writes go (gunicorn in the production shape); the
    WebSocket clients connect to daphne on `port`."""
    url = f"ws://127.0.0.1:{port}/ws/connect?board_id={seeded['board_id']}&token={seeded['secret']}"
    auth = {"Authorization": f"Bearer {seeded['secret']}"}
    base = http_base or f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        # Warm the server (imports, first connection, first write) before the baseline.
        warm, stop_warm = Client(), asyncio.Event()
        task = asyncio.ensure_future(warm.run(url, stop_warm))
        await asyncio.wait_for(warm.subscribed.wait(), 60)
        stop_warm.set()
        await task
        await asyncio.sleep(1)
        rss_before = rss_kib(server.pid)

        clients, stop = [Client() for _ in range(args.clients)], asyncio.Event()
        gate = asyncio.Semaphore(50)  # the listen backlog is small: connect 50 at a time

        async def start(client: Client) -> asyncio.Task:
            async with gate:
                task = asyncio.ensure_future(client.run(url, stop))
                await asyncio.wait_for(client.subscribed.wait(), 120)
                return task

        started = time.monotonic()
        tasks = await asyncio.gather(*(start(client) for client in clients))
        connect_seconds = time.monotonic() - started
        await asyncio.sleep(2)
        rss_after = rss_kib(server.pid)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as daphne:
            health = (await daphne.get("/api/health/")).json()["checks"]["websocket"]
        first_seq = max(client.seq for client in clients) + 1  # nothing else writes meanwhile

        latencies, slowest, post_ms = [], [], []
        for number in range(args.rounds):
            sent = time.perf_counter()
            response = await http.post(
                "/api/tickets/",
                json={"board_id": seeded["board_id"], "title": f"Fan-out {number}"},
                headers=auth,
            )
            post_ms.append((time.perf_counter() - sent) * 1000)
            response.raise_for_status()
            seq, stamp = first_seq + number, None
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if all(seq in client.arrivals for client in clients):
                    break
                await asyncio.sleep(0.01)
            events = await http.get(
                f"/api/boards/{seeded['board_id']}/events",
                params={"format": "json", "since": seq - 1, "limit": 1},
                headers=auth,
            )
            stamp = datetime.fromisoformat(events.json()["items"][0]["timestamp"]).timestamp()
            arrived = [client.arrivals[seq] for client in clients if seq in client.arrivals]
            if len(arrived) < len(clients):
                raise RuntimeError(f"event {seq}: {len(arrived)} of {len(clients)} arrived")
            round_ms = [(moment - stamp) * 1000 for moment in arrived]
            latencies += round_ms
            slowest.append(max(round_ms))
            await asyncio.sleep(0.3)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)

    return {
        "clients": args.clients,
        "rounds": args.rounds,
        "connect_seconds": round(connect_seconds, 2),
        "open_connections_reported": health["open"],
        "rss_before_mib": round(rss_before / 1024, 1),
        "rss_after_mib": round(rss_after / 1024, 1),
        "rss_per_idle_connection_kib": round((rss_after - rss_before) / args.clients, 1),
        "latency_ms": {
            "p50": round(percentile(latencies, 0.50), 1),
            "p99": round(percentile(latencies, 0.99), 1),
            "max": round(max(latencies), 1),
            "mean": round(statistics.fmean(latencies), 1),
        },
        "last_client_ms_p50": round(statistics.median(slowest), 1),
        "write_request_ms_p50": round(statistics.median(post_ms), 1),
    }


def machine() -> dict:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--redis-url", help="use the Redis channel layer (default in-memory)")
    args = parser.parse_args()
    limit = raise_open_files_limit(2 * args.clients + 256)
    host = machine()  # before the run: its load average is the machine's other work

    folder = Path(tempfile.mkdtemp(prefix="ak-bench-fanout-"))
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
        "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
        "VAR_DIR": str(folder),
        "DJANGO_SETTINGS_MODULE": "agent_kanban.settings",
        "LOG_LEVEL": "WARNING",
        "RATELIMIT_ENABLE": "false",
        "WS_MAX_CONNECTIONS": str(args.clients + 10),
        # No heartbeats during the run: the figures are the fan-out alone.
        "WS_HEARTBEAT_SECONDS": "3600",
    }
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
        env["CHANNEL_LAYER_PREFIX"] = f"ak-bench-{uuid.uuid4().hex[:8]}"
    server = None
    try:
        seeded = seed(env)
        port = free_port()
        server = start_server(env, port, folder / "daphne.log")
        result = asyncio.run(measure(args, server, port, seeded))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)

    layer = "redis" if args.redis_url else "in-memory"
    report = {
        "benchmark": "ws_fanout",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "channel_layer": layer,
        "database": "sqlite",
        "open_files_limit": limit,
        "machine": host,
        **result,
    }
    rows = [
        ("clients (idle, all watching one board)", result["clients"]),
        ("events fanned out", result["rounds"]),
        ("channel layer", layer),
        ("delivery latency p50 (ms)", result["latency_ms"]["p50"]),
        ("delivery latency p99 (ms)", result["latency_ms"]["p99"]),
        ("delivery latency max (ms)", result["latency_ms"]["max"]),
        ("last of all clients, p50 over events (ms)", result["last_client_ms_p50"]),
        ("write request p50 (ms)", result["write_request_ms_p50"]),
        (
            "server RSS before / after (MiB)",
            f"{result['rss_before_mib']} / {result['rss_after_mib']}",
        ),
        ("server RSS per idle connection (KiB)", result["rss_per_idle_connection_kib"]),
        ("time to open all connections (s)", result["connect_seconds"]),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = ROOT / "bench" / "results" / f"ws_fanout-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
