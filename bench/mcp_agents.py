"""AI agents on the MCP server: claiming work, alone and 32 at once, and hearing of a
change through `subscriptions/listen`.

    python bench/mcp_agents.py                       # all three parts, full length
    python bench/mcp_agents.py --quick               # short runs
    python bench/mcp_agents.py --only claims         # parts 1-2; `listen` is part 3
    python bench/mcp_agents.py --root /tmp/before    # serve another checkout's code
    python bench/mcp_agents.py --shape production    # two daphnes and gunicorn

Shape `one` (the default): one daphne process on PostgreSQL (database `ak_bench_mcp` on
127.0.0.1, dropped and re-created) and Redis (db 7, emptied) as channel layer and
cache, DEBUG=false, RATELIMIT_ENABLE=false. Shape `production`: as the kit runs it, two
daphne instances on channels-redis's Pub/Sub layer for /mcp and gunicorn (two workers)
for the REST writes; the clients are spread over the two daphnes in turn, as nginx's
least_conn does with equal loads (no nginx in front: its share is not measured). The
data is made through the services of the served checkout (`--root`), in this process.
Every client is the SDK's own (`mcp.Client` over streamable HTTP, bearer token of its
agent), all in this process's event loop, on the same two cores as the servers.

1. claims, one agent: one client calls `claim_next_task` --calls times, one after the
   other, on a board with enough ready tickets; latency of each call as the client
   sees it (tools/call request to parsed, validated answer).
2. claims, 32 agents: 32 agents (each its own token and client, all members of one
   board) call `claim_next_task` in a loop for --seconds; calls/s in all, latency,
   tool errors by code, and double claims (a ticket handed to two agents, counted from
   the answers and from the tickets' `claimed_by` history).
3. listen: --listeners clients each hold a `subscriptions/listen` stream on the board's
   resource; a ticket is created through `POST /api/tickets/` --rounds times, by a
   writer in a process of its own; per listener and round, the time from just before
   the POST is sent until the change reaches the listener. Server memory per open
   stream from daphne's RSS.

Reported, not asserted. Prints a table and writes JSON to bench/results/. Stops by itself.
"""

import argparse
import json
import math
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import anyio
import httpx2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.suite.data import COLUMNS, fill  # noqa: E402
from bench.suite.report import machine  # noqa: E402
from bench.suite.servers import _wait_ready, free_port, raise_open_files_limit, rss_kib  # noqa: E402
from bench.wire_listeners import WireCrowd  # noqa: E402

DATABASE = "ak_bench_mcp"
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_URL = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"
REDIS_URL = "redis://127.0.0.1:6379/7"
AGENTS = 32
PARTS = ("claims", "listen")
SHAPES = ("one", "production")
# The issue's figures (32 agents, daphne + PostgreSQL) and the targets.
ISSUE_BEFORE = {"calls_per_s": 22, "p50_ms": 1300, "p99_ms": 1900}
TARGET_ONE_P50_MS = 20
TARGET_CALLS_PER_S = 10 * ISSUE_BEFORE["calls_per_s"]
TARGET_LISTEN_P99_MS = 250


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout daphne serves")
    parser.add_argument("--only", default=",".join(PARTS), help="some of: claims,listen")
    parser.add_argument("--shape", choices=SHAPES, default="one", help="one daphne or the kit's")
    parser.add_argument(
        "--listen-clients",
        choices=("sdk", "wire"),
        default="sdk",
        help="part 3: SDK clients in this process, or plain HTTP ones in four processes",
    )
    parser.add_argument("--calls", type=int, help="part 1: sequential calls (500; 100 quick)")
    parser.add_argument("--seconds", type=float, help="part 2: seconds (20; 5 quick)")
    parser.add_argument("--listeners", type=int, help="part 3: listen streams (500; 100 quick)")
    parser.add_argument("--rounds", type=int, help="part 3: tickets created (10; 3 quick)")
    parser.add_argument(
        "--tickets", type=int, help="part 2: ready tickets on the board (300 per second of run)"
    )
    args = parser.parse_args(argv)
    args.root = args.root.resolve()
    args.only = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = set(args.only) - set(PARTS)
    if unknown:
        parser.error(f"--only takes some of {','.join(PARTS)}, not {','.join(sorted(unknown))}")
    quick = args.quick
    args.calls = args.calls or (100 if quick else 500)
    args.seconds = args.seconds or (5.0 if quick else 20.0)
    args.listeners = args.listeners or (100 if quick else 500)
    args.rounds = args.rounds or (3 if quick else 10)
    # Ready tickets for 300 claims/s (the target is 220): claim_next's query reads the
    # whole column, so a far bigger board would make every claim slower than it need be.
    args.race_tickets = args.tickets or math.ceil(300 * args.seconds / 500) * 500
    return args


# -- the server and its data ---------------------------------------------------------


def environment(root: Path, folder: Path, listeners: int) -> dict:
    prefix = f"ak-bench-mcp-{uuid.uuid4().hex[:8]}"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "PYTHONPATH", "CHANNEL_LAYER_BACKEND")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="agent_kanban.settings",
        PYTHONPATH=str(root),
        VAR_DIR=str(folder),
        DEBUG="false",  # DEBUG keeps every query in memory: no figure would be honest
        LOG_LEVEL="WARNING",
        RATELIMIT_ENABLE="false",
        WS_MAX_CONNECTIONS=str(listeners + 50),
        WS_HEARTBEAT_SECONDS="3600",
        DATABASE_URL=POSTGRES_URL,
        REDIS_URL=REDIS_URL,
        CHANNEL_LAYER_PREFIX=prefix,
        CACHE_KEY_PREFIX=prefix,
    )
    return env


def fresh_database() -> None:
    import psycopg
    import redis

    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    redis.Redis.from_url(REDIS_URL).flushdb()


def setup_django(env: dict, root: Path) -> None:
    """Django in this process, on the served checkout's code and the bench's database."""
    os.environ.update(env)
    sys.path[:] = [str(root), *(p for p in sys.path if p not in (str(root), str(ROOT)))]
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(args) -> dict:
    """A human owner; a board for the lone agent, one for the 32, one for the listeners,
    each with its agents as members (role agent) and its ready tickets."""
    from django.contrib.auth import get_user_model
    from django.db import connections

    from agents.services import agent_create
    from boards.models import Role
    from boards.services import board_create, membership_set

    owner = get_user_model().objects.create_user(username="bench", password=uuid.uuid4().hex)
    seeded: dict = {}

    def board(name: str, tickets: int, agents: list[str]) -> tuple[int, list[str]]:
        made = board_create(actor=owner, name=name, columns=COLUMNS)
        if tickets:
            fill(actor=owner, board_id=made.pk, count=tickets, column=COLUMNS[0], assigned=False)
        secrets = []
        for username in agents:
            issued = agent_create(username=username)
            membership_set(
                actor=owner, board_id=made.pk, user_id=issued.token.user.pk, role=Role.AGENT
            )
            secrets.append(issued.secret)
        return made.pk, secrets

    if "claims" in args.only:
        board_id, secrets = board("MCP one agent", args.calls + 50, ["mcp-solo"])
        seeded["one"] = {"board_id": board_id, "secret": secrets[0]}
        names = [f"mcp-agent-{number}" for number in range(AGENTS)]
        board_id, secrets = board("MCP 32 agents", args.race_tickets, names)
        seeded["race"] = {"board_id": board_id, "secrets": secrets}
    if "listen" in args.only:
        names = ["mcp-writer", *(f"mcp-listener-{n}" for n in range(args.listeners + 1))]
        board_id, secrets = board("MCP listen", 0, names)
        seeded["listen"] = {"board_id": board_id, "writer": secrets[0], "secrets": secrets[1:]}
    connections.close_all()
    return seeded


def claimed_twice_in_history(board_id: int) -> int:
    """Tickets of the board with more than one `claimed_by` history row."""
    from django.db import connections
    from django.db.models import Count

    from history.models import TicketHistory

    doubles = (
        TicketHistory.objects.filter(board_id=board_id, field_name="claimed_by")
        .values("ticket_id")
        .annotate(times=Count("id"))
        .filter(times__gt=1)
        .count()
    )
    connections.close_all()
    return doubles


def service_time(seeded: dict, times: int = 30) -> dict:
    """`ticket_claim_next` called in this process, no MCP or HTTP: what the tool's body
    costs (on the lone agent's board, after part 1 took its tickets)."""
    from django.contrib.auth import get_user_model
    from django.db import connections

    from tickets.services import ticket_claim_next

    user = get_user_model().objects.get(username="mcp-solo")
    latencies, cpu = [], []
    for _ in range(times):
        started, busy = time.perf_counter(), time.process_time()
        ticket_claim_next(actor=user, board_id=seeded["board_id"])
        latencies.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - busy) * 1000)
    connections.close_all()
    # cpu_p50: Python's own time in the body (the rest of the wall time is PostgreSQL)
    return {**spread(latencies), "cpu_p50": round(statistics.median(cpu), 1)}


class Servers:
    """The served processes: the daphnes that answer /mcp (`bases`, `pids`) and where the
    REST writer posts (`http_base`: gunicorn in the production shape)."""

    def __init__(self) -> None:
        self.processes: list[tuple[subprocess.Popen, Path]] = []
        self.bases: list[str] = []
        self.pids: list[int] = []
        self.http_base = ""

    def spawn(self, command: Callable[[int], list[str]], env: dict, root: Path, log: Path) -> str:
        """Start `command(port)` on a free port; its base URL once it answers."""
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        process = subprocess.Popen(
            command(port),
            cwd=root,
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        self.processes.append((process, log))
        _wait_ready(base, process, log)
        return base

    def logs(self) -> str:
        return "\n".join(
            f"{log.name} (last 4,000 characters):\n{log.read_text()[-4000:]}"
            for _, log in self.processes
            if log.exists()
        )

    def stop(self) -> None:
        for process, _ in self.processes:
            process.terminate()
        for process, _ in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def start_servers(shape: str, env: dict, root: Path, folder: Path) -> Servers:
    def daphne(port: int) -> list[str]:
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
        return [*command, "agent_kanban.asgi:application"]

    def gunicorn(port: int) -> list[str]:
        command = [sys.executable, "-m", "gunicorn", "--workers", "2"]
        command += ["--bind", f"127.0.0.1:{port}", "--access-logfile", "/dev/null"]
        return [*command, "agent_kanban.wsgi:application"]

    servers = Servers()
    instances = 1 if shape == "one" else 2
    if shape == "production":
        env = {**env, "CHANNEL_LAYER_BACKEND": "pubsub"}
    try:
        for number in range(instances):
            log = folder / f"daphne-{number + 1}.log"
            servers.bases.append(servers.spawn(daphne, env, root, log))
            servers.pids.append(servers.processes[-1][0].pid)
        servers.http_base = servers.bases[0]
        if shape == "production":
            servers.http_base = servers.spawn(gunicorn, env, root, folder / "gunicorn.log")
    except BaseException:
        servers.stop()
        raise
    return servers


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_seconds() -> float:
    """CPU time the whole machine has spent busy (all cores, every process: PostgreSQL,
    Redis and whatever else runs here too)."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class CpuShare:
    """CPU used by this process (the clients), by daphne and by the whole machine over a
    stretch of wall time, in cores: 1.0 is one core busy all the time."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.wall, self.own = time.monotonic(), time.process_time()
        self.server, self.machine = self._servers(), busy_seconds()

    def _servers(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    def result(self) -> dict:
        wall = time.monotonic() - self.wall
        return {
            "clients_cores": round((time.process_time() - self.own) / wall, 2),
            "daphne_cores": round((self._servers() - self.server) / wall, 2),
            "machine_cores": round((busy_seconds() - self.machine) / wall, 2),
        }


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def uptime() -> str:
    """`uptime`'s line: the time, and the load average over 1, 5 and 15 minutes."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def load(line: str) -> str:
    return line.rsplit("load average:", 1)[-1].strip()


# -- clients and figures -------------------------------------------------------------


@asynccontextmanager
async def agent(base: str, secret: str):
    """The SDK's client over streamable HTTP with the agent's bearer token, negotiating
    the newest revision the server speaks; no response cache."""
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {secret}"}
    timeout = httpx2.Timeout(60, read=360)
    async with httpx2.AsyncClient(headers=headers, timeout=timeout) as http:
        transport = streamable_http_client(f"{base}/mcp", http_client=http)
        async with Client(transport, cache=None) as client:
            yield client


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def spread(values: list[float]) -> dict:
    if not values:
        return {}
    return {
        "p50": round(percentile(values, 0.50), 1),
        "p90": round(percentile(values, 0.90), 1),
        "p99": round(percentile(values, 0.99), 1),
        "max": round(max(values), 1),
        "mean": round(statistics.fmean(values), 1),
    }


class Tally:
    """What the claim calls answered: claimed ticket ids, empty answers, errors by code."""

    def __init__(self) -> None:
        self.claimed: list[int] = []
        self.empty = 0
        self.errors: Counter[str] = Counter()
        self.samples: dict[str, str] = {}

    async def claim(self, client, board_id: int) -> float:
        """One `claim_next_task` call; its latency in ms."""
        started = time.perf_counter()
        try:
            result = await client.call_tool("claim_next_task", {"board_id": board_id})
        except Exception as error:  # a transport or protocol failure: counted, not fatal
            elapsed = (time.perf_counter() - started) * 1000
            self._error(f"exception/{type(error).__name__}", repr(error))
            return elapsed
        elapsed = (time.perf_counter() - started) * 1000
        if result.is_error:
            text = result.content[0].text if result.content else ""
            self._error(text.split(":", 1)[0] or "unknown", text)
        elif result.structured_content.get("claimed"):
            self.claimed.append(result.structured_content["task"]["id"])
        else:
            self.empty += 1
        return elapsed

    def _error(self, code: str, text: str) -> None:
        self.errors[code] += 1
        self.samples.setdefault(code, text[:300])


async def floor(base: str, times: int = 100) -> dict:
    """Sequential `GET /api/health/live` from one client: the bare stack, for scale."""
    async with httpx2.AsyncClient(base_url=base) as http:
        for _ in range(10):
            await http.get("/api/health/live")
        latencies = []
        for _ in range(times):
            started = time.perf_counter()
            (await http.get("/api/health/live")).raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
    return {"requests": times, "latency_ms": spread(latencies)}


async def one_agent(servers: Servers, seeded: dict, calls: int) -> dict:
    tally, latencies = Tally(), []
    async with agent(servers.bases[0], seeded["secret"]) as client:
        protocol = client.protocol_version
        for _ in range(10):  # warm: the tool listing, the first connection, the caches
            await tally.claim(client, seeded["board_id"])
        started, cpu = time.perf_counter(), CpuShare(servers.pids)
        for _ in range(calls):
            latencies.append(await tally.claim(client, seeded["board_id"]))
        seconds, cpu = time.perf_counter() - started, cpu.result()
    return {
        "protocol_version": protocol,
        "calls": calls,
        "calls_per_s": round(calls / seconds, 1),
        "daphne_cpu_ms_per_call": round(cpu["daphne_cores"] * seconds * 1000 / calls, 1),
        "latency_ms": spread(latencies),
        "cpu": cpu,
        "claimed": len(tally.claimed),
        "empty_answers": tally.empty,
        "errors": dict(tally.errors),
        "error_samples": tally.samples,
        "double_claims_answers": len(tally.claimed) - len(set(tally.claimed)),
    }


async def agents_at_once(servers: Servers, seeded: dict, seconds: float) -> dict:
    board_id, secrets = seeded["board_id"], seeded["secrets"]
    tally, latencies = Tally(), []
    connected, go = [0], anyio.Event()
    window: dict[str, float] = {}
    ends: list[float] = []

    async def run(base: str, secret: str) -> None:
        async with agent(base, secret) as client:
            await tally.claim(client, board_id)  # warm; its claim counts for doubles
            connected[0] += 1
            if connected[0] == len(secrets):
                window["start"] = time.perf_counter()
                window["deadline"] = window["start"] + seconds
                window["cpu"] = CpuShare(servers.pids)
                go.set()
            await go.wait()
            while time.perf_counter() < window["deadline"]:
                latencies.append(await tally.claim(client, board_id))
            ends.append(time.perf_counter())
            if len(ends) == len(secrets):
                window["cpu"] = window["cpu"].result()

    async with anyio.create_task_group() as group:
        for number, secret in enumerate(secrets):
            group.start_soon(run, servers.bases[number % len(servers.bases)], secret)
    elapsed = max(ends) - window["start"]
    errors = sum(tally.errors.values())
    return {
        "agents": len(secrets),
        "seconds": round(elapsed, 2),
        "calls": len(latencies),
        "calls_per_s": round(len(latencies) / elapsed, 1),
        "daphne_cpu_ms_per_call": round(
            window["cpu"]["daphne_cores"] * elapsed * 1000 / len(latencies), 1
        ),
        "claims_per_s": round((len(tally.claimed) - len(secrets)) / elapsed, 1),
        "latency_ms": spread(latencies),
        "cpu": window["cpu"],
        "claimed": len(tally.claimed),
        "empty_answers": tally.empty,
        "errors_total": errors,
        "errors": dict(tally.errors),
        "error_samples": tally.samples,
        "double_claims_answers": len(tally.claimed) - len(set(tally.claimed)),
    }


class Round:
    """One write and who has heard of it since."""

    def __init__(self) -> None:
        self.since, self.size = math.inf, 0
        self.heard: set = set()
        self.everyone = anyio.Event()

    def start(self, size: int) -> None:
        self.since, self.size = time.time(), size
        self.heard, self.everyone = set(), anyio.Event()

    def note(self, listener, moment: float) -> None:
        if moment >= self.since and listener not in self.heard:
            self.heard.add(listener)
            if len(self.heard) >= self.size:
                self.everyone.set()


def writer(base: str, secret: str, board_id: int, pipe) -> None:
    """The REST writer, in a process of its own: the listeners' event loop, busy with
    hundreds of streams, would delay the reading of its answer. For each title it gets,
    it creates a ticket and answers when it sent the request and when the answer came."""
    import httpx

    auth = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=base, headers=auth, timeout=60) as http:
        while (title := pipe.recv()) is not None:
            sent = time.time()
            response = http.post("/api/tickets/", json={"board_id": board_id, "title": title})
            answered = time.time()
            pipe.send((sent, answered, response.status_code, response.text))


class Writer:
    def __init__(self, base: str, secret: str, board_id: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, theirs = context.Pipe()
        self._process = context.Process(
            target=writer, args=(base, secret, board_id, theirs), daemon=True
        )
        self._process.start()

    async def create(self, title: str) -> tuple[float, float, int | None]:
        """(sent, answered, ticket id) of one `POST /api/tickets/`."""
        self._pipe.send(title)
        sent, answered, status, text = await anyio.to_thread.run_sync(self._pipe.recv)
        if status >= 300:
            raise RuntimeError(f"POST /api/tickets/ answered {status}: {text[:500]}")
        return sent, answered, _ticket_id(json.loads(text))

    def close(self) -> None:
        self._pipe.send(None)
        self._process.join(timeout=30)
        if self._process.is_alive():
            self._process.kill()


class Listener:
    """One agent holding a listen stream on the board: notes when each change arrives."""

    def __init__(self, secret: str, heard: "Round | None" = None) -> None:
        self.secret = secret
        self.arrivals: list[float] = []
        self.ready = anyio.Event()
        self.failure: str | None = None
        self.heard = heard

    async def run(self, base: str, uri: str, gate: anyio.Semaphore) -> None:
        # The gate is held while the stream opens: entering the client probes the server
        # (server/discover), entering the listen waits for its acknowledgement.
        await gate.acquire()
        held = True
        try:
            async with (
                agent(base, self.secret) as client,
                client.listen(resource_subscriptions=[uri]) as stream,
            ):
                gate.release()
                held = False
                self.ready.set()
                async for _event in stream:
                    moment = time.time()
                    self.arrivals.append(moment)
                    if self.heard is not None:
                        self.heard.note(self, moment)
                self.failure = "the server ended the stream"
        except Exception as error:
            self.failure = repr(error)[:300]
        finally:
            if held:
                gate.release()
            self.ready.set()

    def first_after(self, moment: float) -> float | None:
        return next((arrived for arrived in self.arrivals if arrived >= moment), None)


async def listen(
    servers: Servers, seeded: dict, listeners: int, rounds: int, wire: bool = False
) -> dict:
    board_id = seeded["board_id"]
    auth = {"Authorization": f"Bearer {seeded['writer']}"}
    writes = Writer(servers.http_base, seeded["writer"], board_id)
    try:
        async with (
            anyio.create_task_group() as group,
            httpx2.AsyncClient(base_url=servers.http_base, headers=auth, timeout=60) as http,
        ):
            result = await _listen(group, http, writes, servers, seeded, listeners, rounds, wire)
            group.cancel_scope.cancel()
    finally:
        writes.close()
    return result


def _rss_kib(servers: Servers) -> int:
    return sum(rss_kib(pid) for pid in servers.pids)


def _fds(servers: Servers) -> int:
    return sum(open_fds(pid) for pid in servers.pids)


async def _listen(
    group, http, writes, servers: Servers, seeded, listeners, rounds, wire: bool
) -> dict:
    bases = servers.bases
    board_id = seeded["board_id"]
    uri = f"kanban://boards/{board_id}"
    # Warm the server (the listen path, the feed's channel) before the baseline.
    gate = anyio.Semaphore(50)  # the listen backlog is small: 50 connect at a time
    warm, warm_scope = Listener(seeded["secrets"][-1]), anyio.CancelScope()
    group.start_soon(_scoped, warm, bases[0], uri, gate, warm_scope)
    with anyio.fail_after(60):
        await warm.ready.wait()
    if warm.failure:
        raise RuntimeError(f"the warm listener failed: {warm.failure}")
    await writes.create("Warm")
    await anyio.sleep(1)
    warm_scope.cancel()
    quiet_ms = []  # the same write with no stream open, for comparison
    for number in range(5):
        sent, answered, _ = await writes.create(f"Alone {number}")
        quiet_ms.append((answered - sent) * 1000)
    await anyio.sleep(2)
    rss_before, fds_before = _rss_kib(servers), _fds(servers)

    heard = Round()
    secrets = seeded["secrets"][:listeners]
    started = time.monotonic()
    if wire:
        crowd = WireCrowd(bases, secrets, uri)
        crowd.start()
        await anyio.to_thread.run_sync(crowd.wait_open)
        failed: list[str] = []
    else:
        sdk_crowd = [Listener(secret, heard) for secret in secrets]
        scopes = [anyio.CancelScope() for _ in sdk_crowd]
        for number, (listener, scope) in enumerate(zip(sdk_crowd, scopes, strict=True)):
            base = bases[number % len(bases)]
            group.start_soon(_scoped, listener, base, uri, gate, scope)
        with anyio.fail_after(300):
            for listener in sdk_crowd:
                await listener.ready.wait()
        failed = [listener.failure for listener in sdk_crowd if listener.failure]
    connect_seconds = time.monotonic() - started
    await anyio.sleep(3)
    rss_after, fds_after = _rss_kib(servers), _fds(servers)

    writes_made, cpu = [], CpuShare(servers.pids)  # (sent, answered, ticket id)
    for number in range(rounds):
        heard.start(len(secrets) - len(failed))
        writes_made.append(await writes.create(f"Listen {number}"))
        if wire:
            await anyio.sleep(1.5)  # its arrivals are read at the end
        else:
            with anyio.move_on_after(30):
                await heard.everyone.wait()
            await anyio.sleep(0.5)
    cpu = cpu.result()
    if wire:
        await anyio.to_thread.run_sync(crowd.stop)
        failed = [crowd.failures[n] for n in range(len(secrets)) if n in crowd.failures]
        arrivals = [crowd.arrivals.get(n, []) for n in range(len(secrets))]
        lost = []  # a stream that failed or ended before the stop
    else:
        live = [listener for listener in sdk_crowd if not listener.failure]
        arrivals = [listener.arrivals for listener in live]
        lost = [listener.failure for listener in live if listener.failure]

    from_send, from_answer, from_event, first, last = [], [], [], [], []
    post_ms = [(answered - sent) * 1000 for sent, answered, _ in writes_made]
    ends = [sent for sent, _, _ in writes_made[1:]] + [math.inf]
    created, missing = [], 0
    for (sent, answered, ticket_id), end in zip(writes_made, ends, strict=True):
        arrived = [next((t for t in times if sent <= t < end), None) for times in arrivals]
        missing += sum(1 for moment in arrived if moment is None)
        arrived = [moment for moment in arrived if moment is not None]
        from_send += [(moment - sent) * 1000 for moment in arrived]
        from_answer += [(moment - answered) * 1000 for moment in arrived]
        if arrived:
            first.append((min(arrived) - sent) * 1000)
            last.append((max(arrived) - sent) * 1000)
        created.append((ticket_id, arrived))
    # Notifications a listener got per change (the server may name several resources).
    since = writes_made[0][0] if writes_made else math.inf
    notes = sum(1 for times in arrivals for moment in times if moment >= since)
    stamps = await _event_stamps(http, board_id)
    for ticket_id, arrived in created:
        if ticket_id in stamps:
            from_event += [(moment - stamps[ticket_id]) * 1000 for moment in arrived]

    def median(values: list[float]) -> float | None:
        return round(statistics.median(values), 1) if values else None

    return {
        "listeners": listeners,
        "rounds": rounds,
        "connect_seconds": round(connect_seconds, 2),
        "listeners_failed_to_open": len(failed),
        "open_failures": Counter(failed).most_common(5),
        "streams_lost_during_rounds": len(lost),
        "arrivals_missing": missing,
        "listen_clients": "wire" if wire else "sdk",
        "notifications_per_listener_per_write": round(notes / max(1, len(arrivals) * rounds), 2),
        "latency_from_post_sent_ms": spread(from_send),
        "latency_from_post_answered_ms": spread(from_answer),
        "latency_from_event_ms": spread(from_event),
        "first_listener_from_post_sent_ms_p50": median(first),
        "last_listener_from_post_sent_ms_p50": median(last),
        "post_ms_p50": median(post_ms),
        "post_ms_p50_no_stream_open": median(quiet_ms),
        "cpu_during_rounds": cpu,
        "rss_before_mib": round(rss_before / 1024, 1),
        "rss_after_mib": round(rss_after / 1024, 1),
        "rss_per_stream_kib": round((rss_after - rss_before) / max(1, len(arrivals)), 1),
        "daphne_fds_before": fds_before,
        "daphne_fds_after": fds_after,
    }


async def _scoped(listener: Listener, base: str, uri: str, gate, scope) -> None:
    with scope:
        await listener.run(base, uri, gate)


def _ticket_id(body: dict) -> int | None:
    ticket = body.get("ticket", body) if isinstance(body, dict) else {}
    return ticket.get("id") if isinstance(ticket, dict) else None


async def _event_stamps(http, board_id: int) -> dict[int, float]:
    """ticket id -> the timestamp of its ticket_created event (taken in the writer's
    transaction, just before the commit)."""
    stamps, since = {}, 0
    while True:
        page = (
            await http.get(
                f"/api/boards/{board_id}/events",
                params={"format": "json", "since": since, "limit": 1000},
            )
        ).json()
        items = page.get("items") or []
        for item in items:
            data = item.get("data") or {}
            if item.get("event") == "ticket_created" and "id" in data:
                stamps[data["id"]] = datetime.fromisoformat(item["timestamp"]).timestamp()
        if len(items) < 1000:
            return stamps
        since = items[-1]["seq"]


# -- the run -------------------------------------------------------------------------


async def measure(args, servers: Servers, seeded: dict) -> dict:
    result: dict = {"floor": await floor(servers.bases[0])}
    if "claims" in args.only:
        result["one_agent"] = await one_agent(servers, seeded["one"], args.calls)
        result["agents_32"] = await agents_at_once(servers, seeded["race"], args.seconds)
    if "listen" in args.only:
        heard = await listen(
            servers,
            seeded["listen"],
            args.listeners,
            args.rounds,
            wire=args.listen_clients == "wire",
        )
        result["listen"] = heard
    return result


def verdicts(result: dict) -> list[dict]:
    rows = []

    def row(name: str, figure, target: str, ok: bool) -> None:
        rows.append({"target": name, "figure": figure, "wanted": target, "ok": ok})

    if "one_agent" in result:
        p50 = result["one_agent"]["latency_ms"]["p50"]
        row("one agent, claim_next_task p50 (ms)", p50, f"<= {TARGET_ONE_P50_MS}", p50 <= 20)
    if "agents_32" in result:
        race = result["agents_32"]
        rate = race["calls_per_s"]
        wanted = f">= {TARGET_CALLS_PER_S} (10x the issue's {ISSUE_BEFORE['calls_per_s']})"
        row("32 agents, calls/s", rate, wanted, rate >= TARGET_CALLS_PER_S)
        doubles = race["double_claims_answers"] + race.get("double_claims_history", 0)
        row("32 agents, double claims", doubles, "0", doubles == 0)
    if "listen" in result:
        p99 = result["listen"]["latency_from_post_sent_ms"].get("p99")
        ok = p99 is not None and p99 <= TARGET_LISTEN_P99_MS
        row("listen, POST sent to arrival p99 (ms)", p99, f"<= {TARGET_LISTEN_P99_MS}", ok)
    return rows


def print_report(report: dict) -> None:
    result = report["result"]
    rows = [
        ("served checkout, shape", f"{report['root']}, {report.get('shape', 'one')}"),
        (
            "load average at start / end",
            f"{load(report['uptime_start'])} / {load(report['uptime_end'])}",
        ),
        ("floor: GET /api/health/live p50 (ms)", result["floor"]["latency_ms"]["p50"]),
    ]
    if "one_agent" in result:
        one = result["one_agent"]
        rows += [
            ("protocol version", one["protocol_version"]),
            (f"1 agent, {one['calls']} calls: p50 / p90 / p99 (ms)", _ms(one["latency_ms"])),
            ("1 agent: calls/s, errors", f"{one['calls_per_s']}, {one['errors'] or 0}"),
            ("1 agent: cores: clients / daphne / machine", _cores(one["cpu"])),
            ("1 agent: daphne CPU per call (ms)", one["daphne_cpu_ms_per_call"]),
            (
                "ticket_claim_next in-process p50 / p90 / p99 (ms), its CPU p50",
                f"{_ms(one['service_in_process_ms'])}, {one['service_in_process_ms']['cpu_p50']}",
            ),
        ]
    if "agents_32" in result:
        race = result["agents_32"]
        rows += [
            (f"32 agents, {race['seconds']} s: calls/s", race["calls_per_s"]),
            ("32 agents: p50 / p90 / p99 (ms)", _ms(race["latency_ms"])),
            ("32 agents: claimed, empty, errors", _race_counts(race)),
            ("32 agents: cores: clients / daphne / machine", _cores(race["cpu"])),
            ("32 agents: daphne CPU per call (ms)", race["daphne_cpu_ms_per_call"]),
            (
                "32 agents: double claims (answers, history)",
                f"{race['double_claims_answers']}, {race.get('double_claims_history')}",
            ),
        ]
    if "listen" in result:
        heard = result["listen"]
        rows += [
            (
                f"{heard['listeners']} {heard.get('listen_clients', 'sdk')} listeners x "
                f"{heard['rounds']} rounds: from POST sent "
                "p50 / p90 / p99 (ms)",
                _ms(heard["latency_from_post_sent_ms"]),
            ),
            (
                "  from POST answered p50 / p90 / p99 (ms)",
                _ms(heard["latency_from_post_answered_ms"]),
            ),
            ("  from event timestamp p50 / p90 / p99 (ms)", _ms(heard["latency_from_event_ms"])),
            (
                "  first / last listener, p50 over rounds (ms)",
                f"{heard['first_listener_from_post_sent_ms_p50']} / "
                f"{heard['last_listener_from_post_sent_ms_p50']}",
            ),
            (
                "  POST p50 (ms), with no stream open",
                f"{heard['post_ms_p50']}, {heard['post_ms_p50_no_stream_open']}",
            ),
            ("  cores: clients / daphne / machine (rounds)", _cores(heard["cpu_during_rounds"])),
            (
                "  failed to open, lost, missing arrivals",
                f"{heard['listeners_failed_to_open']}, {heard['streams_lost_during_rounds']}, "
                f"{heard['arrivals_missing']}",
            ),
            (
                "  daphne RSS before / after (MiB), per stream (KiB)",
                f"{heard['rss_before_mib']} / {heard['rss_after_mib']}, "
                f"{heard['rss_per_stream_kib']}",
            ),
            ("  time to open all streams (s)", heard["connect_seconds"]),
            (
                "  notifications per listener per write",
                heard["notifications_per_listener_per_write"],
            ),
        ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print()
    for verdict in report["targets"]:
        mark = "PASS" if verdict["ok"] else "MISS"
        print(f"{mark}  {verdict['target']}: {verdict['figure']} (wanted {verdict['wanted']})")


def _ms(spread_ms: dict) -> str:
    if not spread_ms:
        return "-"
    return " / ".join(str(spread_ms[key]) for key in ("p50", "p90", "p99") if key in spread_ms)


def _cores(cpu: dict) -> str:
    return f"{cpu['clients_cores']} / {cpu['daphne_cores']} / {cpu['machine_cores']}"


def _race_counts(race: dict) -> str:
    errors = ", ".join(f"{code} {count}" for code, count in race["errors"].items()) or "0"
    return f"{race['claimed']}, {race['empty_answers']}, {errors}"


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    limit = raise_open_files_limit(4 * args.listeners + 512)
    host, load_start = machine(), uptime()  # before the run: the machine's other work
    when = datetime.now(UTC)
    folder = Path(tempfile.mkdtemp(prefix="ak-bench-mcp-"))
    env = environment(args.root, folder, args.listeners)
    servers = None
    try:
        fresh_database()
        setup_django(env, args.root)
        seeding = time.monotonic()
        seeded = seed(args)
        seed_seconds = time.monotonic() - seeding
        servers = start_servers(args.shape, env, args.root, folder)
        result = anyio.run(measure, args, servers, seeded)
        if "one_agent" in result:
            result["one_agent"]["service_in_process_ms"] = service_time(seeded["one"])
        if "agents_32" in result:
            doubles = claimed_twice_in_history(seeded["race"]["board_id"])
            result["agents_32"]["double_claims_history"] = doubles
    except BaseException:
        if servers is not None:
            print(servers.logs())
        raise
    finally:
        if servers is not None:
            servers.stop()
        shutil.rmtree(folder, ignore_errors=True)

    report = {
        "benchmark": "mcp_agents",
        "when": when.isoformat(timespec="seconds"),
        "root": str(args.root),
        "quick": args.quick,
        "parts": args.only,
        "database": "postgresql",
        "shape": args.shape,
        "channel_layer": "redis pubsub" if args.shape == "production" else "redis",
        "server": (
            "daphne, one process"
            if args.shape == "one"
            else "two daphnes (/mcp), gunicorn with two workers (REST writes)"
        ),
        "open_files_limit": limit,
        "seed_seconds": round(seed_seconds, 1),
        "race_tickets": args.race_tickets if "claims" in args.only else None,
        "machine_at_start": host,
        "machine_at_end": machine(),
        "uptime_start": load_start,
        "uptime_end": uptime(),
        "issue_before": ISSUE_BEFORE,
        "result": result,
    }
    report["targets"] = verdicts(result)
    print_report(report)
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    out = ROOT / "bench" / "results" / f"mcp_agents-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
