"""A write PostgreSQL breaks off as a deadlock is tried once more inside the service:
the client gets its 2xx, written once. Two deadlocks in a row reach the caller, which
answers 503. The deadlocks are real: a second connection takes the same two rows in the
other order."""

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg

from boards.models import Board
from tests.realtime.procs import daphne_servers, process_env, run_django
from tickets.models import Ticket

RETRIED_OK = 'agent_kanban_database_retries_total{outcome="ok"} 1.0'


def waiting_on_a_lock(database: str, other_than: int, timeout: float = 10) -> None:
    """Until a backend of `database` other than `other_than` waits for a row lock."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(database, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            rows = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND pid <> %s",
                [other_than],
            ).fetchone()
            if rows[0]:
                return
            time.sleep(0.01)
    raise AssertionError("no backend came to wait for the lock")


def crossing_writer(database: str, board_id: int, ticket_id: int) -> None:
    """Lock the board's row, wait for the server to hold the ticket and wait for the
    board, then ask for the ticket: a deadlock. This side waits 10 s before PostgreSQL
    looks for one and the server 1 s, so the server's transaction is the one broken off."""
    with psycopg.connect(database) as crossing:
        crossing.execute("SET deadlock_timeout = '10s'")
        crossing.execute(
            f'UPDATE "{Board._meta.db_table}" SET name = name WHERE id = %s', [board_id]
        )
        waiting_on_a_lock(database, other_than=crossing.info.backend_pid)
        crossing.execute(
            f'SELECT id FROM "{Ticket._meta.db_table}" WHERE id = %s FOR UPDATE', [ticket_id]
        )
        crossing.commit()


def test_a_deadlocked_edit_is_retried_and_answered_2xx(team, tmp_path):
    env = process_env(tmp_path, database=team.database, DEBUG="false")
    headers = {"Authorization": f"Bearer {team.secrets[0]}"}
    with daphne_servers(1, env, tmp_path) as (server,):
        with httpx.Client(base_url=server.http, headers=headers, timeout=30) as client:
            created = client.post(
                "/api/tickets/", json={"board_id": team.board_id, "title": "Before"}
            )
            assert created.status_code == 201, created.text
            ticket_id = created.json()["id"]
            with ThreadPoolExecutor(1) as pool:
                crossing = pool.submit(crossing_writer, team.database, team.board_id, ticket_id)
                time.sleep(0.2)  # the crossing writer holds the board's row first
                edited = client.patch(f"/api/tickets/{ticket_id}", json={"title": "After"})
                crossing.result(timeout=30)
            history = client.get(f"/api/history/tickets/{ticket_id}/history").json()
        metrics = httpx.get(f"{server.http}/metrics", timeout=10).text

    assert edited.status_code == 200, edited.text
    assert edited.json()["title"] == "After"
    titles = [row for row in history["items"] if row["field_name"] == "title"]
    assert [(row["old_value"], row["new_value"]) for row in titles] == [("Before", "After")]
    assert RETRIED_OK in metrics, [line for line in metrics.splitlines() if "retries" in line]


# Each try of `crossed` takes the board's row, then the ticket's, while the other side
# takes them the other way round: every try deadlocks. Retried once on its own; inside
# a transaction that is already open, not retried (the opener retries).
DEADLOCK_EVERY_TRY = """
import threading
import time
import psycopg
from django.db import OperationalError, connection, transaction
from django.contrib.auth import get_user_model
from core import metrics
from core.transactions import retry_once_on_deadlock
from tickets.services import ticket_create

owner = get_user_model().objects.get(username="load-owner")
ticket = ticket_create(actor=owner, board_id=BOARD_ID, title="Crossed")
tries = []
ready, go = threading.Semaphore(0), threading.Semaphore(0)

def lock(cursor, table, pk):
    cursor.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE", [pk])

def other_waits_for_the_board(cursor):
    # PostgreSQL looks for a cycle once, deadlock_timeout after a wait begins: this side
    # must begin to wait after the other side does, or on a slow machine it finds none.
    for _ in range(3000):
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        if cursor.fetchone()[0]:
            return
        time.sleep(0.01)
    raise RuntimeError("the other side never came to wait for the board's row")

def other_side():
    for _ in range(3):
        with psycopg.connect(DATABASE_URL) as other:
            other.execute("SET deadlock_timeout = '10s'")
            if not ready.acquire(timeout=30):
                return
            lock(other.cursor(), "tickets_ticket", ticket.pk)
            go.release()
            lock(other.cursor(), "boards_board", BOARD_ID)
            other.commit()

@retry_once_on_deadlock
def crossed():
    with transaction.atomic(), connection.cursor() as cursor:
        tries.append(1)
        lock(cursor, "boards_board", BOARD_ID)
        ready.release()
        if not go.acquire(timeout=30):
            raise RuntimeError("the other side never took the ticket's row")
        other_waits_for_the_board(cursor)
        lock(cursor, "tickets_ticket", ticket.pk)

def attempt(inside_a_transaction):
    tries.clear()
    try:
        if inside_a_transaction:
            with transaction.atomic():
                crossed()
        else:
            crossed()
    except OperationalError as exc:
        return [len(tries), exc.__cause__.sqlstate]
    return [len(tries), None]

thread = threading.Thread(target=other_side)
thread.start()
alone = attempt(False)
inside = attempt(True)
thread.join(30)
result = {
    "alone": alone,
    "inside": inside,
    "failed": metrics.DATABASE_RETRIES.labels("failed")._value.get(),
}
"""


def test_a_second_deadlock_reaches_the_caller(team, tmp_path):
    env = process_env(tmp_path, database=team.database, DEBUG="false")
    assert (Board._meta.db_table, Ticket._meta.db_table) == ("boards_board", "tickets_ticket")
    code = DEADLOCK_EVERY_TRY.replace("BOARD_ID", str(team.board_id)).replace(
        "DATABASE_URL", repr(team.database)
    )
    seen = run_django(code, env)
    assert seen == {"alone": [2, "40P01"], "inside": [1, "40P01"], "failed": 1}
