"""The shape's environment, a fresh database, and the data every workload uses, made
through the services (tickets_bulk_create for the big boards) in this process."""

import os
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

COLUMNS = ["Backlog", "Ready", "In Progress", "Review", "Done"]
LABELS = ["frontend", "backend", "bug", "docs", "perf", "security"]
PASSWORD = "bench password 42"  # bench/board_page.py logs in with it
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
# Another run on the same machine (a second checkout) gives itself a database and a Redis
# db of its own: both are dropped and emptied at the start.
POSTGRES_DB = os.environ.get("BENCH_POSTGRES_DB", "ak_bench")
POSTGRES_URL = f"postgresql://postgres@127.0.0.1:5432/{POSTGRES_DB}"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
CLAIM_AGENTS = 32


def shape_env(shape: str, ws_clients: int, sse_streams: int = 0) -> tuple[dict, Path]:
    """The environment both this process and the servers run with."""
    folder = Path(tempfile.mkdtemp(prefix=f"ak-bench-{shape}-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="agent_kanban.settings",
        VAR_DIR=str(folder),
        DEBUG="false",  # DEBUG keeps every query in memory: no figure would be honest
        LOG_LEVEL="WARNING",
        RATELIMIT_ENABLE="false",
        WS_MAX_CONNECTIONS=str(ws_clients + 50),
        SSE_MAX_STREAMS=str(max(sse_streams + 50, 1000)),  # 1000: the setting's default
        WS_HEARTBEAT_SECONDS="3600",  # the fan-out figures are the fan-out alone
        API_MAX_PAGE_SIZE="500",
    )
    if shape == "embedded":
        env["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    else:
        prefix = f"ak-bench-{uuid.uuid4().hex[:8]}"
        env.update(
            DATABASE_URL=POSTGRES_URL,
            REDIS_URL=REDIS_URL,
            CHANNEL_LAYER_PREFIX=prefix,
            CACHE_KEY_PREFIX=prefix,
        )
    return env, folder


def fresh_database(env: dict) -> None:
    """Recreate the PostgreSQL database and empty the Redis db (both this suite's own)."""
    if "postgresql" not in env["DATABASE_URL"]:
        return
    import psycopg
    import redis
    from psycopg import sql

    name = sql.Identifier(POSTGRES_DB)
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(name))
    redis.Redis.from_url(env["REDIS_URL"]).flushdb()


def setup_django(env: dict) -> None:
    os.environ.update(env)
    for key in ("DATABASE_URL", "REDIS_URL"):
        if key not in env:
            os.environ.pop(key, None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


@dataclass
class Seeded:
    token: str = ""
    claim_tokens: list[str] = field(default_factory=list)
    cookie: str = ""
    boards: dict[str, int] = field(default_factory=dict)
    write_tickets: list[int] = field(default_factory=list)
    read_tickets: list[int] = field(default_factory=list)


def fill(
    *, actor, board_id: int, count: int, column: str | None = None, assigned: bool = True
) -> list[int]:
    """`count` varied tickets at the bottom of the board, 500 to a call (the batch limit);
    every other one assigned to `bench` unless not `assigned` (work left for agents:
    claim next leaves a person's assigned tickets to them)."""
    from tickets.services import tickets_bulk_create

    ids: list[int] = []
    for start in range(0, count, 500):
        batch = [
            {
                "title": f"Card {index}: make the thing number {index} work well",
                "column": column or COLUMNS[index % len(COLUMNS)],
                "priority": ["critical", "high", "medium", "low"][index % 4],
                "labels": [LABELS[index % len(LABELS)], LABELS[index % 4]][: index % 3],
                "assignee": ["bench", None][index % 2] if assigned else None,
                "description": "Some words about the card. " * (index % 4),
            }
            for index in range(start, min(count, start + 500))
        ]
        ids += [
            ticket.pk
            for ticket in tickets_bulk_create(actor=actor, board_id=board_id, tickets=batch)
        ]
    return ids


def seed(*, read_sizes: list[int], page_sizes: list[int], claim_tickets: int) -> Seeded:
    from django.contrib.auth import get_user_model
    from django.db import connections
    from django.test import Client

    from agents.services import agent_create
    from boards.services import board_create, membership_set

    User = get_user_model()
    human = User.objects.create_user(username="bench", password=PASSWORD)
    writer = agent_create(username="bench-agent")
    seeded = Seeded(token=writer.secret)
    agent = writer.token.user

    def board(name: str, size: int, column: str | None = None, assigned: bool = True) -> int:
        made = board_create(actor=human, name=name, columns=COLUMNS)
        membership_set(actor=human, board_id=made.pk, user_id=agent.pk, role="admin")
        ids = (
            fill(actor=human, board_id=made.pk, count=size, column=column, assigned=assigned)
            if size
            else []
        )
        seeded.boards[name] = made.pk
        return made.pk, ids

    for size in sorted(set(read_sizes + page_sizes)):
        _, ids = board(f"read-{size}", size)
        if size == min(read_sizes):
            seeded.read_tickets = ids[:200]
    _, seeded.write_tickets = board("writes", 200)
    claims, _ = board("claims", claim_tickets, column=COLUMNS[0], assigned=False)
    for number in range(CLAIM_AGENTS):
        issued = agent_create(username=f"bench-claimer-{number}")
        membership_set(actor=human, board_id=claims, user_id=issued.token.user.pk, role="agent")
        seeded.claim_tokens.append(issued.secret)
    client = Client()
    client.force_login(human)
    seeded.cookie = f"sessionid={client.cookies['sessionid'].value}"
    connections.close_all()
    return seeded
