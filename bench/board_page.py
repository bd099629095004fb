"""Time to interactive of a board of 1,000 cards (or several sizes), in headless Chromium.

    python bench/board_page.py                      # SQLite in a temporary folder
    python bench/board_page.py --cards 2000 --runs 7
    python bench/board_page.py --cards 5000 10000 --runs 3
    python bench/board_page.py --database-url postgresql://postgres@127.0.0.1:5432/ak_bench_board

It builds a throwaway database through the services (as real data is made), serves it
with daphne on a free port, logs in with Playwright and opens the board --runs times.
For each load it reads, from the browser's own clocks: the first byte of the page,
DOMContentLoaded, the moment board.js has wired the page up ("interactive": cards can
be dragged, keys work) and the moment the live connection is up. Then it times a
keyboard move on the big board, from the key press to the server's answer applied.
Beside the times, the tab's cost once the page is live, from Chrome's own counters
(CDP Performance.getMetrics): JavaScript heap used, DOM nodes, and the main thread's
time in script, style and layout since the load began; and how many cards the page
holds in its DOM (a long column renders its first cards, the rest as it scrolls).
Reported, not asserted. Prints a table per size and writes JSON to bench/results/."""

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
DAPHNE = [sys.executable, "-m", "daphne", "-b", "127.0.0.1"]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "bench password 42"
COLUMNS = ["Backlog", "Ready", "In Progress", "Review", "Done"]
LABELS = ["frontend", "backend", "bug", "docs", "perf", "security"]


def configure(database_url: str | None) -> dict:
    """A fresh database for this run; returns the environment the server needs."""
    if database_url:
        from urllib.parse import urlparse

        import psycopg

        name = urlparse(database_url).path.lstrip("/")
        admin = database_url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
            connection.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = database_url
    else:
        folder = tempfile.mkdtemp(prefix="ak-bench-board-")
        os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
        os.environ["VAR_DIR"] = folder
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agent_kanban.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return {key: os.environ[key] for key in ("DATABASE_URL", "VAR_DIR") if key in os.environ}


def people() -> tuple:
    """The benchmark's person (who logs in) and agent, made once for every board."""
    from agents.models import User
    from agents.services import agent_create

    human = User.objects.create_user(username="bench", password=PASSWORD, is_staff=True)
    User.objects.create_user(username="bob", password=PASSWORD)
    agent = agent_create(username="bench-agent").token.user
    return human, agent


def build(cards: int, human, agent) -> int:
    """A board of `cards` tickets made through the services; returns its id."""
    from django.db import transaction

    from boards.services import board_create, membership_set
    from tickets.services import ticket_claim, ticket_create

    started = time.perf_counter()
    with transaction.atomic():
        board = board_create(actor=human, name=f"Benchmark board {cards}", columns=COLUMNS)
        membership_set(actor=human, board_id=board.pk, user_id=agent.pk, role="agent")
        for index in range(cards):
            ticket = ticket_create(
                actor=human,
                board_id=board.pk,
                title=f"Card {index}: make the thing number {index} work well",
                column=COLUMNS[index % len(COLUMNS)],
                priority=["critical", "high", "medium", "low"][index % 4],
                labels=[LABELS[index % len(LABELS)], LABELS[index % 4]][: index % 3],
                assignee=["bench", "bob", None][index % 3],
            )
            if index % 25 == 0:
                ticket_claim(actor=agent, ticket_id=ticket.pk)
    print(f"built {cards} cards in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return board.pk


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(env: dict) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    server = subprocess.Popen(
        [*DAPHNE, "-p", str(port), "agent_kanban.asgi:application"],
        cwd=ROOT,
        env={**os.environ, **env, "DEBUG": "false", "LOG_LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return server, base
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("daphne did not start")


LOAD_TIMES = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  return {
    first_byte_ms: nav.responseStart,
    html_bytes: nav.encodedBodySize || nav.transferSize,
    dom_content_loaded_ms: nav.domContentLoadedEventEnd,
    interactive_ms: Number(document.getElementById("board").dataset.readyAt),
  };
}"""


# Chrome's counters: bytes, a count, and seconds of main-thread time since it started.
METRICS = {
    "JSHeapUsedSize": "js_heap_used_mib",
    "JSHeapTotalSize": "js_heap_total_mib",
    "Nodes": "dom_nodes",
    "ScriptDuration": "script_ms",
    "RecalcStyleDuration": "style_ms",
    "LayoutDuration": "layout_ms",
    "TaskDuration": "task_ms",
}


def metrics(cdp) -> dict:
    values = {item["name"]: item["value"] for item in cdp.send("Performance.getMetrics")["metrics"]}
    out = {}
    for name, key in METRICS.items():
        value = values.get(name, 0)
        if key.endswith("_mib"):
            value = value / 2**20
        elif key.endswith("_ms"):
            value = value * 1000
        out[key] = round(value, 1)
    return out


def measure(base: str, board_id: int, runs: int) -> dict:
    from playwright.sync_api import sync_playwright

    loads = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 800})
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable", {"timeDomain": "threadTicks"})
        page.goto("/login/")
        page.fill("input[name=username]", "bench")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/")
        page.goto(f"/boards/{board_id}/")  # warm: static files cached, templates compiled
        page.wait_for_selector("#board[data-ready]", timeout=180_000)
        for _ in range(runs):
            page.goto("about:blank")
            cdp.send("HeapProfiler.collectGarbage")
            before = metrics(cdp)
            page.goto(f"/boards/{board_id}/")
            page.wait_for_selector("#board[data-ready]", timeout=60_000)
            page.wait_for_selector('[data-live-indicator][data-state="live"]', timeout=60_000)
            times = page.evaluate(LOAD_TIMES)
            times["live_ms"] = page.evaluate("performance.now()")
            times["cards_in_dom"] = page.evaluate("document.querySelectorAll('[data-card]').length")
            after = metrics(cdp)
            for key in ("script_ms", "style_ms", "layout_ms", "task_ms"):
                after[key] = round(after[key] - before[key], 1)
            cdp.send("HeapProfiler.collectGarbage")
            after["js_heap_after_gc_mib"] = metrics(cdp)["js_heap_used_mib"]
            loads.append(times | after)
        move_ms = time_keyboard_move(page)
        fetch_ms = time_column_fetch(page)
        browser.close()
    return {"loads": loads, "keyboard_move_ms": move_ms, "column_fetch_ms": fetch_ms}


def wait_until(page, expression: str, timeout_s: float = 30) -> None:
    """Poll with evaluate(): the page's CSP forbids the eval wait_for_function uses."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(expression)
        time.sleep(0.005)


def time_keyboard_move(page) -> float:
    """Alt+Right on a card of the big board, until the move is saved and shown."""
    card = page.locator('[data-column-name="Backlog"] [data-card]').nth(3)
    card.focus()
    card_id = card.get_attribute("data-id")
    wait_until(page, "!document.querySelector('#board[data-syncing]')")
    started = page.evaluate("performance.now()")
    page.keyboard.press("Alt+ArrowRight")
    # Saved: the card sits in the next column, with no request pending.
    wait_until(
        page,
        f"!!document.querySelector('[data-column-name=\"Ready\"] #card-{card_id}')"
        " && !document.querySelector('.card.pending, #board[data-syncing]')",
    )
    return page.evaluate("performance.now()") - started


def time_column_fetch(page) -> float | None:
    """The long column scrolled to the end of what it holds, until its next cards are in."""
    column = '[data-column-name="Done"] [data-cards]'
    held = page.evaluate(f"document.querySelectorAll('{column} [data-card]').length")
    if not page.evaluate(f"Number(document.querySelector('{column}').dataset.more) > 0"):
        return None
    wait_until(page, "!document.querySelector('#board[data-syncing]')")
    started = page.evaluate("performance.now()")
    page.locator(column).evaluate("list => { list.scrollTop = list.scrollHeight; }")
    wait_until(
        page,
        f"document.querySelectorAll('{column} [data-card]').length > {held}"
        " && !document.querySelector('#board[data-syncing]')",
    )
    return page.evaluate("performance.now()") - started


TIMES = ["first_byte_ms", "dom_content_loaded_ms", "interactive_ms", "live_ms"]
COSTS = [*METRICS.values(), "js_heap_after_gc_mib"]


def summarise(result: dict) -> dict:
    loads = result["loads"]
    keys = TIMES + COSTS
    return {
        key: {
            "median": statistics.median(load[key] for load in loads),
            "min": min(load[key] for load in loads),
            "max": max(load[key] for load in loads),
        }
        for key in keys
    } | {
        "cards_in_dom": loads[0]["cards_in_dom"],
        "html_kib": round(loads[0]["html_bytes"] / 1024),
        "keyboard_move_ms": result["keyboard_move_ms"],
        "column_fetch_ms": result["column_fetch_ms"],
        "loads": loads,
    }


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def report(cards: int, database: str, runs: int, summary: dict) -> None:
    print(f"\nBoard page, {cards} cards, {database}, median of {runs} loads")
    print(f"  load average         {summary['load_average']} (before) -> {load_average()} (after)")
    print(f"  HTML                 {summary['html_kib']} KiB")
    print(f"  cards in the DOM     {summary['cards_in_dom']}")
    for key, label in [
        ("first_byte_ms", "first byte"),
        ("dom_content_loaded_ms", "DOMContentLoaded"),
        ("interactive_ms", "interactive"),
        ("live_ms", "live connection up"),
        ("script_ms", "main thread: script"),
        ("style_ms", "main thread: style"),
        ("layout_ms", "main thread: layout"),
    ]:
        row = summary[key]
        print(
            f"  {label:<20} {row['median']:7.0f} ms  (min {row['min']:.0f}, max {row['max']:.0f})"
        )
    for key, label, unit in [
        ("dom_nodes", "DOM nodes", ""),
        ("js_heap_used_mib", "JS heap used", " MiB"),
        ("js_heap_after_gc_mib", "JS heap after GC", " MiB"),
    ]:
        print(f"  {label:<20} {summary[key]['median']:7.1f}{unit}")
    print(f"  keyboard move        {summary['keyboard_move_ms']:7.0f} ms  (key press to saved)")
    if summary["column_fetch_ms"] is not None:
        print(f"  next cards on scroll {summary['column_fetch_ms']:7.0f} ms  (scrolled to shown)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, nargs="+", default=[1000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    env = configure(args.database_url)
    human, agent = people()
    boards = {cards: build(cards, human, agent) for cards in args.cards}
    from django.db import connections

    connections.close_all()
    database = "postgresql" if args.database_url else "sqlite"
    summaries = {}
    server, base = serve(env)
    try:
        for cards, board_id in boards.items():
            load = load_average()
            summary = summarise(measure(base, board_id, args.runs))
            summary["load_average"] = load
            summary["load_average_after"] = load_average()
            summaries[cards] = summary
            report(cards, database, args.runs, summary)
    finally:
        server.terminate()
        server.wait(timeout=15)
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = results / f"board-page-{database}-{stamp}.json"
    path.write_text(
        json.dumps(
            {
                "database": database,
                "machine": platform.node(),
                "cpus": os.cpu_count(),
                "runs": args.runs,
                "sizes": [{"cards": cards, **summary} for cards, summary in summaries.items()],
            },
            indent=2,
        )
    )
    print(f"  written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
