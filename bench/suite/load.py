"""Run wrk (a compiled load generator) with bench/wrk/workload.lua and read its JSON."""

import json
import subprocess
import time
from pathlib import Path

import httpx

WRK = "/usr/bin/wrk"
SCRIPT = Path(__file__).resolve().parents[1] / "wrk" / "workload.lua"


def wrk(
    base: str,
    workload: str,
    *,
    seconds: float,
    connections: int = 32,
    threads: int = 2,
    timeout_s: int = 30,
    env: dict | None = None,
) -> dict:
    """Drive `workload` for `seconds` at `connections` open connections."""
    if not Path(WRK).exists():
        raise SystemExit("wrk is missing: run bench/install-tools")
    command = [
        WRK,
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout_s}s",
        "-s",
        str(SCRIPT),
        base,
    ]
    settings = {"BENCH_WORKLOAD": workload, **(env or {})}
    done = subprocess.run(
        command,
        env={"PATH": "/usr/bin:/bin", **settings},
        capture_output=True,
        text=True,
        timeout=seconds + timeout_s + 60,
        check=False,
    )
    line = next((row for row in done.stdout.splitlines() if row.startswith("BENCH-JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result for {workload}:\n{done.stdout}\n{done.stderr}")
    settle(base)
    result = json.loads(line.removeprefix("BENCH-JSON "))
    result["errors"] = int(
        sum(result.pop(f"errors_{kind}") for kind in ("connect", "read", "write", "timeout"))
    )
    result["non_2xx"] = int(result.pop("errors_status"))
    result["requests"] = int(result["requests"])
    result["connections"] = connections
    for key in ("rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "duration_s"):
        result[key] = round(result[key], 2)
    return result


def settle(base: str, limit_s: float = 300) -> None:
    """Wait until the server has worked off what wrk left behind: a sync worker still
    answers requests queued by connections wrk has closed, and that work would land in
    the next workload's figures. Settled = three quick floor answers in a row."""
    deadline, quick = time.monotonic() + limit_s, 0
    with httpx.Client(base_url=base, timeout=limit_s) as client:
        while quick < 3 and time.monotonic() < deadline:
            started = time.perf_counter()
            client.get("/api/health/live")
            quick = quick + 1 if time.perf_counter() - started < 0.1 else 0
            time.sleep(0.2)
