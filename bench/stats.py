"""Benchmark of the statistics endpoints on big boards.

    python bench/stats.py                                   # SQLite, in a temporary file
    python bench/stats.py --database-url postgresql://postgres@127.0.0.1:5432/ak_bench_stats
    REDIS_URL=redis://127.0.0.1:6379/6 python bench/stats.py --database-url ...

It builds a throwaway database (created and dropped by the run; a benchmark may write
with bulk inserts, tests and the app may not) holding two boards: 1,000 tickets with
10,000 history rows and 10,000 tickets with 100,000 history rows, spread over 180 days.
Every endpoint is requested through Django's full request stack (session auth, DRF,
serialisation, no network): cold (cache cleared) and cached, median of --repeat runs.
Prints a table and writes JSON to bench/results/."""

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COLUMNS = ["Backlog", "Ready", "In Progress", "Review", "Done"]
ROWS_PER_TICKET = 10
HISTORY_DAYS = 180


def configure(database_url: str | None) -> str:
    """Point Django at a fresh database; returns a description of it."""
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
        folder = tempfile.mkdtemp(prefix="ak-bench-stats-")
        os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
        os.environ["VAR_DIR"] = folder
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agent_kanban.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
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
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')


def ticket_rows(rng: random.Random, now: datetime) -> tuple[list[tuple], int, datetime]:
    """One ticket's life as (field, old, new, at, by_agent) rows, its final column index
    and when it entered that column. Always ROWS_PER_TICKET rows."""
    created = now - timedelta(seconds=rng.uniform(0, HISTORY_DAYS * 86400))
    rows = [
        ("created", None, "bench", created, False),
        ("current_column", None, COLUMNS[0], created, False),
    ]
    rows.append(("priority", None, "medium", created, False))
    at, column = created, 0
    # Most tickets move forward a few columns; the older ones are more often done.
    for _ in range(rng.choice([0, 1, 2, 3, 3, 4, 4, 4])):
        if column == len(COLUMNS) - 1:
            break
        at = min(now, at + timedelta(hours=rng.lognormvariate(2.5, 1.2)))
        agent = rng.random() < 0.4
        rows.append(("current_column", COLUMNS[column], COLUMNS[column + 1], at, agent))
        rows.append(("position", "a0", "a1", at, agent))
        column += 1
    entered = at
    while len(rows) < ROWS_PER_TICKET:
        at = min(now, at + timedelta(minutes=rng.uniform(1, 600)))
        rows.append(("description", "old", "new", at, rng.random() < 0.5))
    return rows, column, entered


def build_board(name: str, tickets: int, human, agent, seed: int) -> tuple[int, int]:
    from django.db import connection

    from boards.models import Board, Column
    from history.models import TicketHistory
    from stats.models import RefusedMove
    from tickets.models import Ticket
    from tickets.ordering import keys_after

    rng = random.Random(seed)
    now = datetime.now(UTC)
    board = Board.objects.create(name=name, created_by=human, last_event_seq=tickets * 3)
    columns = Column.objects.bulk_create(
        Column(board=board, name=column, position=index, wip_limit=None)
        for index, column in enumerate(COLUMNS)
    )
    lives = [ticket_rows(rng, now) for _ in range(tickets)]
    keys = keys_after(None, tickets)
    objects = [
        Ticket(
            board=board,
            column=columns[column],
            position=keys[index],
            title=f"Ticket {index}",
            created_by=human,
            created_at=rows[0][3],
            updated_at=entered,
            column_entered_at=entered,
        )
        for index, (rows, column, entered) in enumerate(lives)
    ]
    Ticket.objects.bulk_create(objects, batch_size=2000)
    history = [
        TicketHistory(
            board=board,
            ticket_id=ticket.pk,
            field_name=field,
            old_value=old,
            new_value=new,
            changed_by=agent if by_agent else human,
            changed_at=at,
        )
        for ticket, (rows, _, _) in zip(objects, lives, strict=True)
        for field, old, new, at, by_agent in rows
    ]
    TicketHistory.objects.bulk_create(history, batch_size=5000)
    RefusedMove.objects.bulk_create(
        RefusedMove(
            board=board,
            ticket_id=objects[rng.randrange(tickets)].pk,
            actor=agent,
            reason=rng.choice(RefusedMove.Reason.values),
            to_column="In Progress",
            at=now - timedelta(days=rng.uniform(0, 60)),
        )
        for _ in range(tickets // 20)
    )
    # Fresh planner statistics, as autovacuum (PostgreSQL) would gather after a bulk
    # load: without them PostgreSQL takes the new 100,000 rows for a handful.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return board.pk, objects[len(objects) // 2].pk


def endpoints(board_id: int, ticket_id: int) -> dict[str, str]:
    base = f"/api/statistics/boards/{board_id}"
    return {
        "statistics": f"{base}/statistics",
        "tickets/colors": f"{base}/tickets/colors",
        "performance (30 d)": f"{base}/performance",
        "performance (180 d)": f"{base}/performance?days=180",
        "flow (30 d)": f"{base}/flow",
        "flow (180 d)": f"{base}/flow?days=180",
        "drag-drop/metrics": f"{base}/drag-drop/metrics",
        "ticket statistics": f"/api/statistics/tickets/{ticket_id}/statistics",
    }


def timed(client, path: str) -> float:
    started = time.perf_counter()
    response = client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (path, response.status_code, response.content[:300])
    return elapsed


def measure(client, path: str, repeat: int) -> dict:
    from django.core.cache import cache

    cold, cached = [], []
    for _ in range(repeat):
        cache.clear()
        cold.append(timed(client, path))
        cached.append(timed(client, path))
    return {
        "cold_ms": round(statistics.median(cold), 1),
        "cached_ms": round(statistics.median(cached), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a PostgreSQL URL; its database is recreated")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sizes", default="1000,10000")
    args = parser.parse_args()
    url = configure(args.database_url)
    try:
        run(args, url)
    finally:
        drop(args.database_url)


def run(args, url: str) -> None:
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from agents.models import User

    human = User.objects.create_user(username="bench-human", password="x")
    agent = User.objects.create_user(username="bench-agent", password="x", is_agent=True)
    client = Client()
    client.force_login(human)
    sizes = [int(size) for size in args.sizes.split(",")]
    results: dict = {}
    for size in sizes:
        started = time.perf_counter()
        board_id, ticket_id = build_board(f"Bench {size}", size, human, agent, seed=size)
        built = time.perf_counter() - started
        print(f"built {size} tickets / {size * ROWS_PER_TICKET} history rows in {built:.1f}s")
        results[size] = {
            name: measure(client, path, args.repeat)
            for name, path in endpoints(board_id, ticket_id).items()
        }
    cache_backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    print(f"\n{connection.vendor}, cache {cache_backend}, median of {args.repeat} (ms)")
    header = f"{'endpoint':22}" + "".join(
        f"{f'{size} cold':>13}{f'{size} cached':>14}" for size in sizes
    )
    print(header)
    print("-" * len(header))
    for name in results[sizes[0]]:
        cells = "".join(
            f"{results[size][name]['cold_ms']:>13}{results[size][name]['cached_ms']:>14}"
            for size in sizes
        )
        print(f"{name:22}{cells}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out / f"stats-{connection.vendor}-{stamp}.json"
    report = {
        "database": connection.vendor,
        "cache": cache_backend,
        "repeat": args.repeat,
        "rows_per_ticket": ROWS_PER_TICKET,
        "history_days": HISTORY_DAYS,
        "results_ms": {str(size): figures for size, figures in results.items()},
        "database_url": url.split("@")[-1],
    }
    path.write_text(json.dumps(report, indent=2))
    print(f"\nwritten to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
