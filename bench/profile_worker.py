"""Where a gunicorn worker's time goes under load: py-spy on the production shape.

    python bench/profile_worker.py                    # get_ticket, move, claim_next; 12 s each
    python bench/profile_worker.py --workloads move --seconds 20

Starts the suite's production shape (gunicorn with two workers + daphne, PostgreSQL
`ak_profile`, Redis db 9), seeds it as `bench/run` does, then for each workload runs wrk
at 32 connections (bench/wrk/workload.lua) while `py-spy record --subprocesses` samples
both workers. Prints, per workload, the functions in the most samples (inclusive: a
function counted once per sample it is anywhere in) and the leaves (self time), as
shares of the workers' samples (gunicorn's own frames, under every sample, left out of
the inclusive list), and writes them to bench/results/profile-<date>.json. py-spy leaves
out idle samples (a worker waiting in accept); one waiting for PostgreSQL's answer is
counted, in psycopg's `Connection.wait`."""

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.suite import data, report  # noqa: E402
from bench.suite.load import wrk  # noqa: E402
from bench.suite.servers import Shape  # noqa: E402
from bench.suite.workloads import Context  # noqa: E402

PY_SPY = ROOT / ".venv" / "bin" / "py-spy"
DATABASE = "ak_profile"
REDIS_URL = "redis://127.0.0.1:6379/9"
WORKLOADS = ["get_ticket", "move", "claim_next"]


def fresh_environment() -> tuple[dict, Path]:
    """The production shape's environment on a database and Redis db of this script's
    own, so it never drops the suite's."""
    import psycopg
    import redis

    env, folder = data.shape_env("production", 0)
    env.update(DATABASE_URL=f"postgresql://postgres@127.0.0.1:5432/{DATABASE}", REDIS_URL=REDIS_URL)
    with psycopg.connect(data.POSTGRES_ADMIN, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    redis.Redis.from_url(REDIS_URL).flushdb()
    return env, folder


def wrk_env(ctx: Context, workload: str) -> dict:
    if workload == "get_ticket":
        read_board = min((name for name in ctx.seeded.boards if name.startswith("read-")), key=len)
        return ctx.env(read_board, ctx.seeded.read_tickets)
    if workload == "claim_next":
        return {**ctx.env("claims"), "BENCH_TOKENS": ",".join(ctx.seeded.claim_tokens)}
    return ctx.env()


def frame_name(frame: str) -> str:
    """`function (file.py:line)` → `function (file.py)`: one row per function."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})" if where else name


def top_frames(raw: str, rows: int) -> dict:
    """Inclusive and self shares of the samples in py-spy's collapsed stacks."""
    inclusive: Counter = Counter()
    leaves: Counter = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [frame_name(frame) for frame in stack.split(";")]
        total += samples
        for name in set(frames):
            if not name.startswith("process ") and "(gunicorn" not in name:
                inclusive[name] += samples
        leaves[frames[-1]] += samples

    def share(counter: Counter) -> list:
        return [[name, round(100 * n / total, 1)] for name, n in counter.most_common(rows)]

    return {"samples": total, "inclusive": share(inclusive), "self": share(leaves)}


def profile(ctx: Context, workload: str, seconds: float, folder: Path, rows: int) -> dict:
    master = ctx.shape.processes["gunicorn"].pid
    outcome: dict = {}
    load = threading.Thread(
        target=lambda: outcome.update(
            wrk(ctx.shape.http_base, workload, seconds=seconds + 3, env=wrk_env(ctx, workload))
        )
    )
    load.start()
    time.sleep(2)  # past wrk's first connections
    output = folder / f"{workload}.txt"
    subprocess.run(
        [
            str(PY_SPY),
            "record",
            "--pid",
            str(master),
            "--subprocesses",
            "--format",
            "raw",
            "--nonblocking",
            "--duration",
            str(round(seconds)),
            "--output",
            str(output),
        ],
        check=True,
        capture_output=True,
    )
    load.join()
    frames = top_frames(output.read_text(), rows)
    return {"requests_per_s": outcome.get("rps"), "wrk": outcome, **frames}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--seconds", type=float, default=12)
    parser.add_argument("--rows", type=int, default=25)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("py-spy needs to attach to the workers: run as root", file=sys.stderr)
    machine = report.machine()
    env, folder = fresh_environment()
    data.setup_django(env)
    seeded = data.seed(read_sizes=[500], page_sizes=[], claim_tickets=3000)
    shape = Shape("production", env, folder)
    results = {}
    try:
        shape.start()
        ctx = Context(shape, seeded, quick=False)
        wrk(shape.http_base, "floor", seconds=3)  # warm-up: imports, first connections
        for workload in args.workloads.split(","):
            print(f"profiling {workload}…", flush=True)
            results[workload] = profile(ctx, workload, args.seconds, folder, args.rows)
    finally:
        shape.stop()
    for workload, found in results.items():
        print(f"\n== {workload}: {found['requests_per_s']} req/s, {found['samples']} samples")
        print("inclusive:")
        for name, share in found["inclusive"]:
            print(f"  {share:5.1f} %  {name}")
        print("self:")
        for name, share in found["self"][:12]:
            print(f"  {share:5.1f} %  {name}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = report.RESULTS / f"profile-{stamp}.json"
    path.write_text(
        json.dumps(
            {"benchmark": "profile_worker", "machine_at_start": machine, "results": results},
            indent=2,
        )
    )
    print(f"\nwritten to {path.relative_to(ROOT)}")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
