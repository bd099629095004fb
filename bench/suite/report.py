"""Targets, the PASS/MISS table and the results file."""

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "results"


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next(
        (row.split(":", 1)[1].strip() for row in cpuinfo if row.startswith("model name")), ""
    )
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu": model or platform.processor(),
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }


def _row(workload: str, figure: str, floor: str, ratio: str, target: str, ok: bool | None) -> dict:
    verdict = "info" if ok is None else ("PASS" if ok else "MISS")
    return {
        "workload": workload,
        "figure": figure,
        "floor": floor,
        "ratio": ratio,
        "target": target,
        "verdict": verdict,
    }


def targets(shape: str, r: dict) -> list[dict]:
    """Every figure next to its floor and target; a workload that did not run is left out."""
    rows: list[dict] = []
    floor = r.get("floor_rps")
    floor_text = f"{floor:.0f} req/s" if floor else ""

    def ratio_row(name: str, result: dict, minimum: float | None, label: str) -> None:
        share = result["rps"] / floor
        if not result["requests"]:
            rows.append(
                _row(label, "no request finished", floor_text, "", "", False if minimum else None)
            )
            return
        figure = f"{result['rps']:.0f} req/s, p50 {result['p50_ms']:.0f} ms"
        figure += f", p99 {result['p99_ms']:.0f} ms"
        if result.get("non_2xx") or result.get("errors"):
            figure += f", {result['non_2xx']} non-2xx, {result['errors']} errors"
        rows.append(
            _row(
                label,
                figure,
                floor_text,
                f"{share:.1%}",
                f">= {minimum:.0%}" if minimum else "",
                None if minimum is None else share >= minimum and not result.get("non_2xx"),
            )
        )

    rest = r.get("rest", {})
    for name, minimum, label in (
        ("get_ticket", 0.40, "GET ticket"),
        ("list_column", None, "list a column (page of 50)"),
        ("create", 0.20, "create ticket"),
        ("move", 0.20, "move ticket"),
        ("comment", 0.20, "add comment"),
    ):
        if name in rest:
            ratio_row(name, rest[name], minimum, f"{label}, 32 connections")
    boards = r.get("boards", {})
    queries = r.get("queries", {})
    sizes = sorted({int(key.rsplit("_", 1)[1]) for key in boards})
    for kind, label in (("board_read", "board API read"), ("board_page", "board page")):
        for size in sizes:
            result = boards[f"{kind}_{size}"]
            minimum = 0.05 if size <= 500 else 0.01
            ratio_row(kind, result, minimum, f"{label}, {size} tickets, 4 connections")
            rows[-1]["figure"] += f"; server time {result['server_time_ms']:.0f} ms"
        if len(sizes) > 1:
            small, big = sizes[0], sizes[-1]
            counts = [queries.get(f"{kind}_{size}") for size in sizes]
            rows.append(
                _row(
                    f"{label}: queries per request",
                    " / ".join(map(str, counts)) + f" at {small} / {big}",
                    "",
                    "",
                    "constant",
                    len(set(counts)) == 1,
                )
            )
            grow = (
                boards[f"{kind}_{big}"]["server_time_ms"]
                / boards[f"{kind}_{small}"]["server_time_ms"]
            )
            data = big / small
            rows.append(
                _row(
                    f"{label}: growth {small} -> {big} tickets",
                    f"x{grow:.1f} server time",
                    "",
                    f"data x{data:.0f}",
                    f"<= x{data:.0f}",
                    grow <= data,
                )
            )
    if "claims" in r:
        c = r["claims"]
        share = c["claims_per_s"] / floor
        doubles = c["double_claims_responses"] + c["double_claims_history"]
        rows.append(
            _row(
                "claim-next, 32 racing agents",
                f"{c['claims_per_s']:.0f} claims/s, p99 {c['p99_ms']:.0f} ms, {c['claims']} claims",
                floor_text,
                f"{share:.1%}",
                ">= 10% (PostgreSQL)",
                share >= 0.10 if shape == "production" else None,
            )
        )
        rows.append(_row("claim-next double claims", str(doubles), "", "", "0", doubles == 0))
    if "mixed" in r:
        m = r["mixed"]
        rows.append(
            _row(
                f"mixed traffic, 256 connections, {m['duration_s']:.0f} s",
                f"{m['rps']:.0f} req/s, {m['errors']} errors, {m['non_2xx']} non-2xx, "
                f"max {m['max_ms']:.0f} ms",
                floor_text,
                f"{m['rps'] / floor:.1%}",
                "0 errors, max < 1 s",
                m["errors"] == 0 and m["non_2xx"] == 0 and m["max_ms"] < 1000,
            )
        )
        rows.append(
            _row(
                "mixed traffic: server memory",
                f"{m['rss_before_mib']} -> {m['rss_quarter_mib']} -> {m['rss_end_mib']} MiB",
                "",
                f"{m['rss_growth_after_warmup']:+.1%} after warm-up",
                "flat (<= +10%)",
                m["rss_growth_after_warmup"] <= 0.10,
            )
        )
    for size, page in r.get("browser", {}).items():
        interactive = page["interactive_ms"]["median"]
        rows.append(
            _row(
                f"board page in Chromium, {size} cards",
                f"interactive {interactive:.0f} ms, "
                f"first byte {page['first_byte_ms']['median']:.0f} ms",
                "",
                "",
                "<= 1500 ms" if int(size) >= 5000 else "",
                interactive <= 1500 if int(size) >= 5000 else None,
            )
        )
    for key in ("fanout", "fanout_pubsub"):
        if key not in r:
            continue
        f = r[key]
        rows.append(
            _row(
                f"WebSocket fan-out to {f['clients']} clients, {f['channel_layer']} layer",
                f"p50 {f['latency_ms']['p50']:.0f} ms, p99 {f['latency_ms']['p99']:.0f} ms, "
                f"{f['rss_per_idle_connection_kib']} KiB/connection",
                "",
                "",
                "p99 <= 250 ms",
                f["latency_ms"]["p99"] <= 250,
            )
        )
    if "sse" in r:
        s = r["sse"]
        idle, during = s["get_idle"], s["get_during"]
        rows.append(
            _row(
                f"GET ticket on daphne, {s['connected']} SSE streams open",
                f"p50 {during['p50_ms']:.1f} ms (idle {idle['p50_ms']:.1f} ms), "
                f"p99 {during['p99_ms']:.0f} ms (idle {idle['p99_ms']:.0f} ms)",
                "",
                f"x{s['get_p50_ratio']:.2f} idle",
                "<= x2 idle",
                s["get_p50_ratio"] <= 2,
            )
        )
        refused = s["statuses"].get("429", 0)
        rows.append(
            _row(
                f"SSE streams on one daphne: {s['streams']} opened, one write heard",
                f"{s['connected']} of {s['streams']} opened in {s['open_seconds']:.0f} s "
                f"({refused} refused 429, {s['failed']} failed), {s['heard_event']} heard "
                f"the write, last after {s['event_ms']['last'] or 0:.0f} ms",
                "",
                "",
                "all open, all hear",
                s["connected"] == s["streams"] and s["heard_event"] == s["connected"],
            )
        )
        rows.append(
            _row(
                "SSE streams: daphne memory",
                f"{s['rss_before_mib']} -> {s['rss_open_mib']} MiB, "
                f"{s['rss_per_stream_kib']} KiB/stream; CPU with nobody asking: "
                f"{s['daphne_cpu_share_idle']:.0%} idle, "
                f"{s['daphne_cpu_share_streams_open']:.0%} of a core with the streams open",
                "",
                "",
                "",
                None,
            )
        )
    stats = r.get("stats", {})
    if len(stats) > 1:
        small, big = sorted(stats, key=int)[0], sorted(stats, key=int)[-1]
        data = int(big) / int(small)
        for name in stats[big]:
            cold_small, cold_big = stats[small][name]["cold_ms"], stats[big][name]["cold_ms"]
            grow = cold_big / max(cold_small, 0.1)
            rows.append(
                _row(
                    f"stats {name}",
                    f"{big}: cold {cold_big:.0f} ms, cached {stats[big][name]['cached_ms']:.0f} ms",
                    "",
                    f"x{grow:.1f} from {small}",
                    f"growth <= x{data:.0f}",
                    grow <= data,
                )
            )
    return rows


def print_table(shape: str, rows: list[dict]) -> None:
    columns = ["workload", "figure", "floor", "ratio", "target", "verdict"]
    widths = {key: max(len(key), *(len(row[key]) for row in rows)) for key in columns}
    print(f"\n== {shape} ==")
    print("  ".join(key.ljust(widths[key]) for key in columns))
    for row in rows:
        print("  ".join(row[key].ljust(widths[key]) for key in columns))


def write(shape: str, report: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{stamp}-{shape}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path
