"""Each workload of the suite: drives a running shape and returns its figures."""

import asyncio
import os
import statistics
import threading
import time
from argparse import Namespace
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.suite.data import COLUMNS, Seeded
from bench.suite.load import settle, wrk
from bench.suite.servers import Shape, rss_kib


@dataclass
class Context:
    shape: Shape
    seeded: Seeded
    quick: bool

    @property
    def seconds(self) -> float:
        return 4 if self.quick else 10

    def env(self, board: str = "writes", tickets: list[int] | None = None) -> dict:
        return {
            "BENCH_TOKENS": self.seeded.token,
            "BENCH_BOARD": str(self.seeded.boards[board]),
            "BENCH_TICKETS": ",".join(map(str, tickets or self.seeded.write_tickets)),
            "BENCH_COLUMNS": ",".join(COLUMNS),
        }


def floor(ctx: Context) -> dict:
    return wrk(ctx.shape.http_base, "floor", seconds=ctx.seconds)


def rest(ctx: Context) -> dict:
    """The five REST calls at 32 connections, each next to its own floor run."""
    base, results = ctx.shape.http_base, {}
    read_board = min((name for name in ctx.seeded.boards if name.startswith("read-")), key=len)
    plans = {
        "get_ticket": ctx.env(read_board, ctx.seeded.read_tickets),
        "list_column": ctx.env(read_board),
        "create": ctx.env(),
        "move": ctx.env(),
        "comment": ctx.env(),
    }
    for name, env in plans.items():
        results[name] = wrk(base, name, seconds=ctx.seconds, env=env)
    return results


def server_time_ms(base: str, path: str, headers: dict, times: int = 3) -> float:
    """Median time of a lone request (after one to warm up): the server's own time."""
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        spent = []
        for _ in range(times + 1):
            started = time.perf_counter()
            client.get(path).raise_for_status()
            spent.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(spent[1:]), 1)


def board_reads(ctx: Context, sizes: list[int]) -> dict:
    """Per board size, the board API read and the board page: server time (a lone
    request) and throughput at 4 connections (enough to keep both cores busy), run long
    enough for each connection to finish several requests."""
    base, results = ctx.shape.http_base, {}
    for size in sizes:
        board = ctx.seeded.boards[f"read-{size}"]
        env = {**ctx.env(f"read-{size}"), "BENCH_COOKIE": ctx.seeded.cookie}
        for workload, path, headers in (
            (
                "board_read",
                f"/api/boards/{board}/tickets",
                {"Authorization": f"Bearer {ctx.seeded.token}"},
            ),
            ("board_page", f"/boards/{board}/", {"Cookie": ctx.seeded.cookie}),
        ):
            alone = server_time_ms(base, path, headers)
            seconds = min(max(ctx.seconds, 6 * alone / 1000), 30 if ctx.quick else 90)
            busy = wrk(base, workload, seconds=seconds, connections=4, timeout_s=120, env=env)
            busy["server_time_ms"] = alone
            results[f"{workload}_{size}"] = busy
    return results


def query_counts(seeded: Seeded, sizes: list[int]) -> dict:
    """Queries per request, counted in this process through Django's full stack."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    counts = {}
    for size in sizes:
        board = seeded.boards[f"read-{size}"]
        for name, path in (
            ("board_read", f"/api/boards/{board}/tickets"),
            ("board_page", f"/boards/{board}/"),
        ):
            with CaptureQueriesContext(connection) as queries:
                status = client.get(path).status_code
            if status != 200:
                raise RuntimeError(f"{path} answered {status}")
            counts[f"{name}_{size}"] = len(queries)
    connection.close()
    return counts


def claim_race(ctx: Context) -> dict:
    """32 connections, each request a different one of 32 agents, all claiming next."""
    from django.db import connection
    from django.db.models import Count

    from history.models import TicketHistory

    board = ctx.seeded.boards["claims"]
    env = {**ctx.env("claims"), "BENCH_TOKENS": ",".join(ctx.seeded.claim_tokens)}
    result = wrk(ctx.shape.http_base, "claim_next", seconds=ctx.seconds, env=env)
    claimed = result.pop("claimed")
    doubles_db = (
        TicketHistory.objects.filter(board_id=board, field_name="claimed_by")
        .values("ticket_id")
        .annotate(times=Count("id"))
        .filter(times__gt=1)
        .count()
    )
    connection.close()
    result.update(
        claims=len(claimed),
        claims_per_s=round(len(claimed) / result["duration_s"], 1),
        double_claims_responses=len(claimed) - len(set(claimed)),
        double_claims_history=doubles_db,
    )
    return result


def mixed(ctx: Context, seconds: float) -> dict:
    """256 connections of mixed traffic; the server's memory sampled as it runs."""
    samples: list[tuple[float, int]] = []
    stop = threading.Event()

    def sample() -> None:
        started = time.monotonic()
        while not stop.wait(1.0):
            samples.append((round(time.monotonic() - started, 1), ctx.shape.http_rss_kib()))

    sampler = threading.Thread(target=sample, daemon=True)
    before = ctx.shape.http_rss_kib()
    sampler.start()
    env = ctx.env("writes")
    result = wrk(
        ctx.shape.http_base, "mixed", seconds=seconds, connections=256, timeout_s=30, env=env
    )
    stop.set()
    sampler.join()
    settled = [kib for at, kib in samples if at >= seconds / 4] or [before]
    result.update(
        rss_before_mib=round(before / 1024, 1),
        rss_quarter_mib=round(settled[0] / 1024, 1),
        rss_end_mib=round(samples[-1][1] / 1024, 1) if samples else None,
        rss_max_mib=round(max(kib for _, kib in samples) / 1024, 1) if samples else None,
        rss_growth_after_warmup=round(settled[-1] / settled[0] - 1, 3),
    )
    return result


def fanout(ctx: Context, clients: int, rounds: int, layer: str = "") -> dict:
    """One event to `clients` watchers of one daphne. `layer="pubsub"`: the production
    shape's second daphne, on the Pub/Sub layer, which also takes the writes."""
    from bench import ws_fanout

    daphne, http = "daphne", ctx.shape.http_base
    if layer == "pubsub":
        daphne, http = "daphne-pubsub", ctx.shape.pubsub_base
    ws_port = int((http if layer == "pubsub" else ctx.shape.ws_base).rsplit(":", 1)[1])
    args = Namespace(clients=clients, rounds=rounds)
    seeded = {"secret": ctx.seeded.token, "board_id": ctx.seeded.boards["writes"]}
    server = ctx.shape.processes[daphne]
    result = asyncio.run(ws_fanout.measure(args, server, ws_port, seeded, http_base=http))
    return {
        "channel_layer": layer or ("redis" if ctx.shape.name == "production" else "in-memory"),
        **result,
    }


def _latencies(client: httpx.Client, paths: list[str], count: int, warmup: int) -> dict:
    """`count` requests one after the other (after `warmup`), cycling through `paths`."""
    spent = []
    for number in range(warmup + count):
        started = time.perf_counter()
        client.get(paths[number % len(paths)]).raise_for_status()
        if number >= warmup:
            spent.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(spent, n=100, method="inclusive")
    return {
        "requests": count,
        "p50_ms": round(statistics.median(spent), 2),
        "p90_ms": round(cuts[89], 2),
        "p99_ms": round(cuts[98], 2),
        "max_ms": round(max(spent), 2),
    }


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_share(pid: int, seconds: float = 5) -> float:
    """The share of one core the process spends while nobody asks it anything."""
    before = _cpu_seconds(pid)
    time.sleep(seconds)
    return round((_cpu_seconds(pid) - before) / seconds, 3)


def sse(ctx: Context, streams: int, gets: int = 300, warmup: int = 20) -> dict:
    """`streams` server-sent event streams on the shape's daphne (the one that serves
    /api/boards/{id}/events in production), held by client processes of their own
    (bench/sse_streams.py); GET ticket sent to that same daphne one request after the
    other, before and while they are open; one REST write that every stream should
    hear; daphne's memory per open stream."""
    from django.conf import settings

    from bench.sse_streams import StreamCrowd

    base, pid = ctx.shape.ws_base, ctx.shape.ws_pid()
    board = ctx.seeded.boards["writes"]
    auth = {"Authorization": f"Bearer {ctx.seeded.token}"}
    paths = [f"/api/tickets/{ticket}" for ticket in ctx.seeded.read_tickets]
    with httpx.Client(base_url=base, headers=auth, timeout=60) as client:
        # Warm the stream path (imports, first layer connection) before the baseline.
        with client.stream("GET", f"/api/boards/{board}/events") as response:
            response.raise_for_status()
            next(line for line in response.iter_lines() if line == ": connected")
        idle = _latencies(client, paths, gets, warmup)
        idle_cpu = _cpu_share(pid)
        rss_before = rss_kib(pid)
        crowd = StreamCrowd(base, ctx.seeded.token, board, streams)
        try:
            crowd.start()
            opened = crowd.wait_open()
            time.sleep(2)
            rss_open = rss_kib(pid)
            open_cpu = _cpu_share(pid)
            during = _latencies(client, paths, gets, warmup)
            with httpx.Client(base_url=ctx.shape.http_base, headers=auth, timeout=60) as writer:
                sent = time.time()
                created = writer.post(
                    "/api/tickets/", json={"board_id": board, "title": "Heard by every stream"}
                )
                created.raise_for_status()
            deadline, heard = time.monotonic() + 30, []
            while time.monotonic() < deadline:
                heard = crowd.heard(created.json()["id"])
                if len(heard) >= opened["connected"]:
                    break
                time.sleep(0.2)
        finally:
            crowd.stop()
    settle(base)
    delivery = sorted((moment - sent) * 1000 for moment in heard)
    return {
        "streams": streams,
        "sse_poll_ms": settings.SSE_POLL_MS,
        "sse_heartbeat_seconds": settings.SSE_HEARTBEAT_SECONDS,
        "sse_max_streams": settings.SSE_MAX_STREAMS,
        **opened,
        "get_idle": idle,
        "get_during": during,
        "get_p50_ratio": round(during["p50_ms"] / idle["p50_ms"], 2),
        "heard_event": len(heard),
        "event_ms": {
            "p50": round(statistics.median(delivery), 1) if delivery else None,
            "last": round(delivery[-1], 1) if delivery else None,
        },
        "daphne_cpu_share_idle": idle_cpu,
        "daphne_cpu_share_streams_open": open_cpu,
        "rss_before_mib": round(rss_before / 1024, 1),
        "rss_open_mib": round(rss_open / 1024, 1),
        "rss_closed_mib": round(rss_kib(pid) / 1024, 1),
        "rss_per_stream_kib": round((rss_open - rss_before) / max(1, opened["connected"]), 1),
    }


def browser(ctx: Context, sizes: list[int], runs: int) -> dict:
    from bench import board_page

    results = {}
    for size in sizes:
        # daphne: the page's live connection needs the origin to speak WebSocket too
        # (nginx gives the browser one origin in production).
        loads = board_page.measure(ctx.shape.ws_base, ctx.seeded.boards[f"read-{size}"], runs)
        summary = board_page.summarise(loads)
        results[str(size)] = summary
    return results


def stats(sizes: list[int], repeat: int) -> dict:
    """The statistics endpoints in this process (cold: cache cleared), median of runs."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from bench import stats as stats_bench
    from boards.services import membership_set

    User = get_user_model()
    human = User.objects.create_user(username="bench-stats", password="x")
    agent = User.objects.create_user(username="bench-stats-agent", password="x", is_agent=True)
    admin = User.objects.create_user(username="bench-site-admin", password="x", is_staff=True)
    client = Client()
    client.force_login(human)
    results = {}
    for size in sizes:
        board_id, ticket_id = stats_bench.build_board(f"Stats {size}", size, human, agent, size)
        membership_set(actor=admin, board_id=board_id, user_id=human.pk, role="admin")
        results[str(size)] = {
            name: stats_bench.measure(client, path, repeat)
            for name, path in stats_bench.endpoints(board_id, ticket_id).items()
        }
    connection.close()
    return results


def median(values: list[float]) -> float:
    return round(statistics.median(values), 2)
