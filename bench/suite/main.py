"""`bench/run`: start a shape, seed it, run every workload, print PASS/MISS, write JSON."""

import argparse
import shutil
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench.suite import data, report, workloads
from bench.suite.servers import Shape, raise_open_files_limit

ALL = ["rest", "boards", "claims", "mixed", "browser", "fanout", "sse", "stats"]
READ_SIZES = [500, 5000]
PAGE_SIZES = [1000, 5000]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs: a few minutes in all")
    parser.add_argument("--shape", choices=["embedded", "production", "both"], default="both")
    parser.add_argument("--only", default=",".join(ALL), help=f"some of {','.join(ALL)}")
    parser.add_argument("--clients", type=int, default=1000, help="WebSocket fan-out clients")
    parser.add_argument("--sse-streams", type=int, default=500, help="server-sent event streams")
    return parser.parse_args(argv)


def run_shape(args: argparse.Namespace) -> int:
    only = [name for name in args.only.split(",") if name]
    unknown = set(only) - set(ALL)
    if unknown:
        raise SystemExit(f"unknown workloads: {', '.join(sorted(unknown))}")
    raise_open_files_limit(2 * max(args.clients, args.sse_streams) + 1024)
    host = data_machine = report.machine()  # before anything runs: the machine's other work
    env, folder = data.shape_env(args.shape, args.clients, args.sse_streams)
    data.fresh_database(env)
    data.setup_django(env)
    started = time.monotonic()
    print(f"[{args.shape}] seeding…", flush=True)
    seeded = data.seed(
        read_sizes=READ_SIZES,
        page_sizes=PAGE_SIZES if "browser" in only else [],
        claim_tickets=3000 if args.quick else 8000,
    )
    print(f"[{args.shape}] seeded in {time.monotonic() - started:.0f} s", flush=True)
    shape = Shape(args.shape, env, folder)
    results: dict = {"floors": []}
    try:
        shape.start()
        ctx = workloads.Context(shape, seeded, args.quick)
        workloads.floor(ctx)  # warm-up: imports, first connections
        results["floors"].append(workloads.floor(ctx))
        # The fan-out and the event streams first: their memory per connection is read on
        # a daphne that has not yet served the heavy reads.
        steps = {
            "fanout": lambda: workloads.fanout(ctx, args.clients, 5 if args.quick else 20),
            "fanout_pubsub": lambda: workloads.fanout(
                ctx, args.clients, 5 if args.quick else 20, layer="pubsub"
            ),
            "sse": lambda: workloads.sse(ctx, args.sse_streams),
            "rest": lambda: workloads.rest(ctx),
            "boards": lambda: workloads.board_reads(ctx, READ_SIZES),
            "claims": lambda: workloads.claim_race(ctx),
            "mixed": lambda: workloads.mixed(ctx, 15 if args.quick else 60),
            "browser": lambda: workloads.browser(ctx, PAGE_SIZES, 3 if args.quick else 5),
        }
        for name in steps:
            if name.split("_")[0] not in only or (
                name == "fanout_pubsub" and not shape.pubsub_base
            ):
                continue
            print(f"[{args.shape}] {name}…", flush=True)
            try:
                results[name] = steps[name]()
            except Exception as error:  # one broken workload must not lose the others
                traceback.print_exc()
                results.setdefault("failed", {})[name] = repr(error)[:500]
            if name in ("rest", "claims", "mixed"):
                results["floors"].append(workloads.floor(ctx))
        if "boards" in only:
            results["queries"] = workloads.query_counts(seeded, READ_SIZES)
    finally:
        shape.stop()
    if "stats" in only:
        print(f"[{args.shape}] stats…", flush=True)
        try:
            results["stats"] = workloads.stats([1000, 10000], 2 if args.quick else 5)
        except Exception as error:
            traceback.print_exc()
            results.setdefault("failed", {})["stats"] = repr(error)[:500]
    floors = [floor["rps"] for floor in results["floors"]]
    results["floor_rps"] = workloads.median(floors)
    rows = report.targets(args.shape, results)
    report.print_table(args.shape, rows)
    path = report.write(
        args.shape,
        {
            "benchmark": "suite",
            "shape": args.shape,
            "quick": args.quick,
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine_at_start": host,
            "machine_at_end": report.machine(),
            "database": "postgresql" if args.shape == "production" else "sqlite",
            "servers": "gunicorn (2 workers) + daphne" if args.shape == "production" else "daphne",
            "targets": rows,
            "results": results,
            "seconds": round(time.monotonic() - started),
        },
    )
    print(f"written to {path.relative_to(report.RESULTS.parents[1])}")
    shutil.rmtree(folder, ignore_errors=True)
    del data_machine
    for name, error in results.get("failed", {}).items():
        print(f"FAILED {name}: {error}")
    missed = any(row["verdict"] == "MISS" for row in rows)
    return 1 if missed or results.get("failed") else 0


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.shape != "both":
        return run_shape(args)
    # One process per shape: Django's settings (the database) are fixed per process.
    runner = Path(__file__).resolve().parents[1] / "run"
    codes = [
        subprocess.call([sys.executable, str(runner), *argv, "--shape", shape])
        for shape in ("embedded", "production")
    ]
    return max(codes)
