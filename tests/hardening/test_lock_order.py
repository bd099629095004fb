"""Comments, edits and moves on ONE ticket, at once, through real gunicorn workers (the
production shape of REST; daphne runs sync views one at a time) on PostgreSQL (issue 19,
point 3). Every write locks the ticket's row before the board's (whose event
counter it bumps), so no two of them ever wait for each other in a circle: no 5xx, and
not one deadlock for the retry to hide (`agent_kanban_database_retries_total` stays
put)."""

import itertools
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

from boards.models import Board
from tests.load.conftest import Team, seed_team
from tests.load.test_deadlock_retry import waiting_on_a_lock
from tests.observability.scrape import total
from tests.observability.test_processes import gunicorn
from tests.postgres import throwaway_database
from tests.realtime.procs import process_env, run_django
from tickets.models import Ticket

pytestmark = pytest.mark.own_postgres

WRITERS = 8
ROUNDS = 20
RETRIES = "agent_kanban_database_retries_total"

ONE = """
from django.contrib.auth import get_user_model
from tickets.services import ticket_create
owner = get_user_model().objects.get(username="load-owner")
result = ticket_create(actor=owner, board_id=BOARD, title="Contended").pk
"""


@pytest.fixture(scope="module")
def team(tmp_path_factory) -> Iterator[Team]:
    """A PostgreSQL database of the module's own (PostgreSQL down: the test fails)."""
    with throwaway_database("h2_lock_order") as url:
        yield seed_team(url, url.rsplit("/", 1)[1], tmp_path_factory.mktemp("lock-order"))


def writes(ticket: int, writer: int):
    """Each writer's requests, kind after kind; each writer starts at another kind. The
    moves change the ticket's position (a key of a unique index), which is what needs
    the ticket's strongest row lock."""
    kinds = [
        ("POST", "/api/comments/", {"ticket_id": ticket, "text": f"note {writer}"}),
        ("POST", f"/api/tickets/{ticket}/move", {"column": "In Progress", "position": "top"}),
        ("PATCH", f"/api/tickets/{ticket}", {"title": f"by {writer}"}),
        ("POST", "/api/comments/", {"ticket_id": ticket, "text": f"more from {writer}"}),
        ("POST", f"/api/tickets/{ticket}/move", {"column": "Backlog", "position": "top"}),
    ]
    return itertools.islice(itertools.cycle(kinds), writer % len(kinds), None)


def write(base: str, secret: str, ticket: int, writer: int, start: threading.Event) -> Counter:
    answers = Counter()
    start.wait()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}) as client:
        for method, path, body in itertools.islice(writes(ticket, writer), ROUNDS):
            response = client.request(method, path, json=body, timeout=60)
            answers[(method, path.split("/")[-1] or "comment", response.status_code)] += 1
    return answers


def retries(base: str) -> float:
    """The deadlock retries the workers have counted so far, whatever their outcome."""
    return total(httpx.get(f"{base}/metrics", timeout=10).text, RETRIES)


@pytest.mark.timeout(300)
def test_comments_edits_and_moves_on_one_ticket_never_deadlock(team, tmp_path):
    # One metrics folder for the workers: /metrics from any of them counts them all.
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = process_env(
        tmp_path, database=team.database, DEBUG="false", PROMETHEUS_MULTIPROC_DIR=shared
    )
    ticket = run_django(f"BOARD = {team.board_id}\n{ONE}", env)
    start = threading.Event()
    log = tmp_path / "gunicorn.log"
    with gunicorn(env, log, workers=WRITERS) as base, ThreadPoolExecutor(WRITERS) as pool:
        before = retries(base)
        futures = [
            pool.submit(write, base, secret, ticket, n, start)
            for n, secret in enumerate(team.secrets[:WRITERS])
        ]
        start.set()
        answers = sum((future.result() for future in futures), Counter())
        after = retries(base)
    print(f"lock order: {dict(answers)}")
    assert sum(answers.values()) == WRITERS * ROUNDS
    failed = {key: count for key, count in answers.items() if key[2] >= 300}
    assert not failed, (answers, log.read_text()[-3000:])
    assert after == before, f"{after - before} deadlock(s) retried: {dict(answers)}"


def test_a_comment_takes_the_ticket_before_the_board(team, tmp_path):
    """A ticket write that holds the ticket's strongest lock (what a delete, or a change
    of its position, takes) and then comes for the board meets a comment on the ticket.
    The comment must wait for the ticket before it takes the board; had it taken the
    board first, it would wait for the ticket at commit (its foreign key's check), a
    circle PostgreSQL breaks as a deadlock, which the retry then hides."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = process_env(
        tmp_path, database=team.database, DEBUG="false", PROMETHEUS_MULTIPROC_DIR=shared
    )
    ticket = run_django(f"BOARD = {team.board_id}\n{ONE}", env)
    headers = {"Authorization": f"Bearer {team.secrets[0]}"}
    log = tmp_path / "gunicorn.log"
    with gunicorn(env, log, workers=1) as base, ThreadPoolExecutor(1) as pool:
        before = retries(base)
        ready = threading.Event()
        crossing = pool.submit(ticket_then_board, team.database, team.board_id, ticket, ready)
        assert ready.wait(30), crossing.result(timeout=1)
        created = httpx.post(
            f"{base}/api/comments/",
            json={"ticket_id": ticket, "text": "beside a ticket write"},
            headers=headers,
            timeout=60,
        )
        crossing.result(timeout=60)
        after = retries(base)
    assert created.status_code == 201, (created.text, log.read_text()[-3000:])
    assert after == before, f"{after - before} deadlock(s) retried"


def ticket_then_board(database: str, board_id: int, ticket_id: int, ready) -> None:
    """As a ticket write that changes the ticket's key: the ticket's row FOR UPDATE, then
    (once the server waits for a lock) the board's, as `event_append` bumps it. This side
    waits 10 s before PostgreSQL looks for a deadlock, the server 1 s: the server's
    transaction is the one a deadlock would break off."""
    with psycopg.connect(database) as writer:
        writer.execute("SET deadlock_timeout = '10s'")
        writer.execute(
            f'SELECT id FROM "{Ticket._meta.db_table}" WHERE id = %s FOR UPDATE', [ticket_id]
        )
        ready.set()
        waiting_on_a_lock(database, other_than=writer.info.backend_pid, timeout=30)
        writer.execute(
            f'UPDATE "{Board._meta.db_table}" SET last_event_seq = last_event_seq + 1 '
            "WHERE id = %s",
            [board_id],
        )
        writer.commit()


DOOMED = """
from boards.services import board_create, membership_set
from django.contrib.auth import get_user_model
from tickets.services import ticket_create
owner = get_user_model().objects.get(username="load-owner")
board = board_create(actor=owner, name="Deleted while written")
admin = get_user_model().objects.get(username="load-agent-0")
membership_set(actor=owner, board_id=board.pk, user_id=admin.pk, role="admin")
result = [board.pk, ticket_create(actor=owner, board_id=board.pk, title="Held").pk]
"""


def test_a_board_delete_takes_its_tickets_before_the_board(team, tmp_path):
    """A ticket write that holds one of the board's tickets and then comes for the board
    meets the board's deletion. The delete must wait for the ticket before it locks the
    board; had it locked the board first, the two would wait for each other in a circle."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = process_env(
        tmp_path, database=team.database, DEBUG="false", PROMETHEUS_MULTIPROC_DIR=shared
    )
    board, ticket = run_django(DOOMED, env)
    headers = {"Authorization": f"Bearer {team.secrets[0]}"}
    log = tmp_path / "gunicorn.log"
    with gunicorn(env, log, workers=1) as base, ThreadPoolExecutor(1) as pool:
        before = retries(base)
        ready = threading.Event()
        crossing = pool.submit(ticket_then_board, team.database, board, ticket, ready)
        assert ready.wait(30), crossing.result(timeout=1)
        deleted = httpx.delete(f"{base}/api/boards/{board}", headers=headers, timeout=60)
        crossing.result(timeout=60)
        after = retries(base)
    assert deleted.status_code == 204, (deleted.text, log.read_text()[-3000:])
    assert after == before, f"{after - before} deadlock(s) retried"
    with psycopg.connect(team.database) as check:
        table = Ticket._meta.db_table
        left = check.execute(f'SELECT count(*) FROM "{table}" WHERE board_id = %s', [board])
        assert left.fetchone()[0] == 0
