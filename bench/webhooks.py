"""Benchmark of outgoing webhooks: what they add to a write, how fast deliveries go out,
and how long after its commit an event reaches its receiver.

    python bench/webhooks.py                     # embedded: SQLite, the deliverer a thread
                                                 # of this process, as in the daphne server
    python bench/webhooks.py --database-url postgresql://postgres@127.0.0.1:5432/ak_bench_webhooks
                                                 # production: PostgreSQL, the deliverer a
                                                 # `manage.py deliver_webhooks` process

It builds a throwaway database (created and dropped by the run), two boards — one with no
webhook, one with 5 — and a receiver in a process of its own (a threaded http.server that
answers 200 at once and notes when each delivery arrived). Then:

1. write cost: `ticket_create` through the service, alternating between the two boards,
   with no deliverer running (the write path itself) and again with one running;
2. throughput: the deliveries queued by (1) (5 per event), sent from a standing start;
3. latency after commit: writes to the 5-webhook board at random intervals, and for each
   delivery the time from the service's return (its commit) to its arrival.

Prints a table and writes JSON to bench/results/."""

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WEBHOOKS = 5

RECEIVER = r"""
import json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

seen, lock = [], threading.Lock()

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        arrived = time.time()
        with lock:
            seen.append([self.path, json.loads(body)["seq"], arrived])
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def do_GET(self):
        with lock:
            answer = json.dumps(seen).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
server.daemon_threads = True
server.serve_forever(poll_interval=0.05)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def configure(database_url: str | None) -> str:
    if database_url:
        from urllib.parse import urlparse

        import psycopg

        name = urlparse(database_url).path.lstrip("/")
        admin = database_url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = database_url
    else:
        folder = tempfile.mkdtemp(prefix="ak-bench-webhooks-")
        os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
        os.environ["VAR_DIR"] = folder
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agent_kanban.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["WEBHOOKS_ALLOW_PRIVATE_ADDRESSES"] = "true"
    os.environ["WEBHOOKS_DELIVER_IN_PROCESS"] = "false"
    os.environ["RATELIMIT_ENABLE"] = "false"
    os.environ["DEBUG"] = "false"  # as the servers of bench/run: no query log
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return os.environ["DATABASE_URL"]


def drop(database_url: str | None) -> None:
    from django.db import connections

    connections.close_all()
    if database_url:
        import psycopg

        name = database_url.rsplit("/", 1)[1]
        admin = database_url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def percentile(values: list[float], p: float) -> float:
    """Nearest rank, as the statistics endpoints compute it."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, -(-len(ordered) * p // 100) - 1))]


def ms(value: float) -> float:
    return round(value * 1000, 3)


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen([sys.executable, "-c", RECEIVER, str(self.port)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                self.seen()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the receiver did not start")

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def seen(self) -> list[list]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=10) as answer:
            return json.loads(answer.read())

    def wait_for(self, count: int, timeout: float = 300) -> list[list]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = self.seen()
            if len(seen) >= count:
                return seen
            time.sleep(0.02)
        raise RuntimeError(f"only {len(self.seen())} of {count} deliveries arrived")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class Deliverer:
    """The deliverer of the shape: a thread here (embedded) or a worker process."""

    def __init__(self, process: bool) -> None:
        self.thread = self.worker = self.loop = None
        if process:
            env = {**os.environ, "LOG_LEVEL": "WARNING"}
            command = [sys.executable, "manage.py", "deliver_webhooks"]
            self.worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        else:
            from webhooks.worker import Deliverer as Loop

            self.loop = Loop()
            self.thread = threading.Thread(target=self.loop.run, daemon=True)
            self.thread.start()

    def cpu_seconds(self) -> float | None:
        """CPU time the worker process has used so far (None for a thread)."""
        if self.worker is None:
            return None
        fields = Path(f"/proc/{self.worker.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.send_signal(signal.SIGTERM)
            self.worker.wait(30)
        else:
            self.loop.stop()
            self.thread.join(30)


def timed_writes(user, boards: list, count: int, gap: tuple[float, float] = (0, 0)) -> dict:
    """`count` ticket creations on each board, alternating (a pause of `gap` seconds
    after each); seconds each, and the commit time of each write to the last board by its
    sequence number."""
    from boards.models import Board
    from tickets.services import ticket_create

    rng = random.Random(7)
    took: dict[int, list[float]] = {board.pk: [] for board in boards}
    commits: dict[int, float] = {}
    for number in range(count):
        # Each board goes first every other time, so neither gains from its place.
        for board in boards if number % 2 == 0 else boards[::-1]:
            started = time.perf_counter()
            ticket_create(actor=user, board_id=board.pk, title=f"Bench {number}")
            took[board.pk].append(time.perf_counter() - started)
            if board is boards[-1]:
                commits[Board.objects.get(pk=board.pk).last_event_seq] = time.time()
            if gap[1]:
                time.sleep(rng.uniform(*gap))
    return {"took": took, "commits": commits}


def summary(values: list[float]) -> dict:
    return {
        "p50_ms": ms(statistics.median(values)),
        "p90_ms": ms(percentile(values, 90)),
        "p99_ms": ms(percentile(values, 99)),
        "n": len(values),
    }


def run(args) -> dict:
    from django.db import connection

    from agents.models import User
    from boards.services import board_create
    from webhooks.services import webhook_create

    user = User.objects.create_user(username="bench", password="x" * 12)
    plain = board_create(actor=user, name="No webhooks")
    hooked = board_create(actor=user, name="Five webhooks")
    receiver = Receiver()
    try:
        for number in range(WEBHOOKS):
            webhook_create(actor=user, board_id=hooked.pk, url=receiver.url(f"h{number}"))
        for _ in range(20):  # warm-up: caches, connections, code paths
            timed_writes(user, [plain, hooked], 1)

        # 1. What webhooks add to a write, with no deliverer running: the write path.
        alone = timed_writes(user, [plain, hooked], args.writes)["took"]
        backlog = WEBHOOKS * (args.writes + 20)

        # 2. Throughput: the queued deliveries, from the first arrival to the last (so a
        # worker process's start-up does not count).
        deliverer = Deliverer(process=connection.vendor == "postgresql")
        try:
            burst = [arrived for _, _, arrived in receiver.wait_for(backlog)]
            elapsed = max(burst) - min(burst)
            # 3. Latency after commit, the deliverer running; and the writes meanwhile.
            arrived_before = len(receiver.seen())
            cpu_before = deliverer.cpu_seconds()
            live = timed_writes(user, [plain, hooked], args.latency_writes, gap=(0.01, 0.06))
            seen = receiver.wait_for(arrived_before + WEBHOOKS * args.latency_writes)
            cpu_after = deliverer.cpu_seconds()
        finally:
            deliverer.stop()
    finally:
        receiver.stop()
    lags = [arrived - live["commits"][seq] for _, seq, arrived in seen if seq in live["commits"]]
    per_webhook = {}
    for path, seq, _ in seen:
        per_webhook.setdefault(path, []).append(seq)
    in_order = all(seqs == sorted(seqs) for seqs in per_webhook.values())
    return {
        "write_no_deliverer": {
            "no_webhooks": summary(alone[plain.pk]),
            "five_webhooks": summary(alone[hooked.pk]),
        },
        "write_deliverer_running": {
            "no_webhooks": summary(live["took"][plain.pk]),
            "five_webhooks": summary(live["took"][hooked.pk]),
        },
        "throughput": {
            "deliveries": backlog,
            "seconds": round(elapsed, 3),
            "per_second": round((backlog - 1) / elapsed, 1),
        },
        "after_commit": summary(lags),
        "worker_cpu_ms_per_delivery": None
        if cpu_before is None
        else round((cpu_after - cpu_before) * 1000 / (WEBHOOKS * args.latency_writes), 2),
        "in_order_per_webhook": in_order,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a PostgreSQL URL; its database is recreated")
    parser.add_argument("--writes", type=int, default=300, help="writes per board in (1)")
    parser.add_argument("--latency-writes", type=int, default=200, help="writes in (3)")
    args = parser.parse_args()
    from bench.suite.report import machine

    load_before = machine()
    url = configure(args.database_url)
    try:
        from django.conf import settings
        from django.db import connection

        vendor = connection.vendor
        results = run(args)
        poll, concurrency = settings.WEBHOOKS_POLL_MS, settings.WEBHOOKS_CONCURRENCY
    finally:
        drop(args.database_url)
    shape = "production" if vendor == "postgresql" else "embedded"
    report = {
        "shape": shape,
        "database": vendor,
        "deliverer": "deliver_webhooks process" if shape == "production" else "thread",
        "webhooks_poll_ms": poll,
        "webhooks_concurrency": concurrency,
        "machine_at_start": load_before,
        "machine_at_end": machine(),
        "database_url": url.split("@")[-1],
        **results,
    }
    show(report)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out / f"webhooks-{shape}-{stamp}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\nwritten to {path.relative_to(ROOT)}")


def show(report: dict) -> None:
    quiet, busy = report["write_no_deliverer"], report["write_deliverer_running"]
    print(f"\n{report['shape']} ({report['database']}, deliverer: {report['deliverer']})")
    print(f"load average {report['machine_at_start']['load_average']} at the start")
    for title, figures in (("no deliverer", quiet), ("deliverer running", busy)):
        none, five = figures["no_webhooks"], figures["five_webhooks"]
        added = five["p50_ms"] - none["p50_ms"]
        print(
            f"write, {title:18} p50 {none['p50_ms']:.2f} ms without webhooks, "
            f"{five['p50_ms']:.2f} ms with 5 (added {added:+.2f} ms)"
        )
    rate = report["throughput"]
    print(f"throughput: {rate['deliveries']} in {rate['seconds']} s, {rate['per_second']}/s")
    lag = report["after_commit"]
    print(f"after commit: p50 {lag['p50_ms']:.1f} ms, p99 {lag['p99_ms']:.1f} ms (n={lag['n']})")
    if report["worker_cpu_ms_per_delivery"] is not None:
        print(f"worker CPU per delivery: {report['worker_cpu_ms_per_delivery']} ms")
    print(f"in order per webhook: {report['in_order_per_webhook']}")


if __name__ == "__main__":
    main()
