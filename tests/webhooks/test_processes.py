"""The deliverers as they run: the loop in its own thread, a daphne server that delivers
by itself (the embedded shape) killed with SIGKILL and started again, and two
`manage.py deliver_webhooks` workers racing on one PostgreSQL database."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from django.db import connection

from boards.models import BoardEvent
from tests.factories import make_agent, make_board, make_ticket
from tests.postgres import throwaway_database
from tests.realtime.procs import (
    DAPHNE,
    ROOT,
    Daphne,
    _wait_ready,
    database_url,
    free_port,
    process_env,
    run_django,
)
from tests.webhooks.helpers import make_webhook
from tests.webhooks.receiver import Receiver
from webhooks.models import WebhookDelivery
from webhooks.worker import Deliverer

pytestmark = pytest.mark.django_db(transaction=True)

FAST = {
    "WEBHOOKS_ALLOW_PRIVATE_ADDRESSES": "true",
    "WEBHOOKS_TIMEOUT_SECONDS": "1",
    "WEBHOOKS_RETRY_BASE_SECONDS": "0.1",
    "WEBHOOKS_POLL_MS": "20",
}


def in_order_without_repeats(seqs: list[int]) -> list[int]:
    """`seqs` with each run of one value taken once (a resend of the delivery in flight
    when a deliverer died); what is left must be strictly increasing."""
    runs = [seq for index, seq in enumerate(seqs) if index == 0 or seqs[index - 1] != seq]
    assert runs == sorted(set(runs)), f"out of order or sent again later: {seqs}"
    return runs


def test_the_delivery_loop_sends_every_event_in_order_as_it_commits(user, board):
    with Receiver() as receiver:
        make_webhook(user, board, receiver.url)
        deliverer = Deliverer(poll_ms=20, concurrency=2)
        running = threading.Thread(target=deliverer.run, daemon=True)
        running.start()
        try:
            for number in range(10):
                make_ticket(user, board, f"Card {number}")
                time.sleep(0.05)
            receiver.wait_for(10, timeout=15)
        finally:
            deliverer.stop()
            running.join(10)
    assert not running.is_alive()
    created = BoardEvent.objects.filter(board=board, type="ticket_created")
    seqs = set(created.values_list("seq", flat=True))
    sent = in_order_without_repeats([r.json["seq"] for r in receiver.requests])
    assert set(sent) == seqs
    # How soon after the commit is a figure, not a test: bench/webhooks.py measures it.


def start_daphne(env: dict, log: Path) -> Daphne:
    port = free_port()
    process = subprocess.Popen(
        [*DAPHNE, "-p", str(port), "agent_kanban.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
    )
    server = Daphne(process, port, log)
    _wait_ready(server)
    return server


def all_delivered(webhook, expected: list[int], receiver: Receiver) -> bool:
    recorded = WebhookDelivery.objects.filter(webhook=webhook, status="delivered").count()
    return set(receiver.seqs()) == set(expected) and recorded == len(expected)


@pytest.mark.timeout(120)
def test_a_server_killed_after_commits_delivers_every_queued_event_once_restarted(tmp_path):
    agent, token = make_agent("writer")
    board = make_board(agent, "Killed")
    env = process_env(tmp_path, database=database_url(), WEBHOOKS_DELIVER_IN_PROCESS="true", **FAST)
    log = tmp_path / "daphne.log"
    # Slow enough that deliveries fall behind the writes: some are queued at the kill.
    with Receiver(delay=0.25) as receiver:
        webhook, _ = make_webhook(agent, board, receiver.url)
        server = start_daphne(env, log)
        try:
            headers = {"Authorization": f"Bearer {token}"}
            for number in range(20):
                made = httpx.post(
                    f"{server.http}/api/tickets/",
                    json={"board_id": board.pk, "title": f"Card {number}"},
                    headers=headers,
                    timeout=30,
                )
                assert made.status_code == 201, made.text
            receiver.wait_for(2, timeout=20)  # the server delivers by itself
        finally:
            os.kill(server.process.pid, signal.SIGKILL)
            server.process.wait()
        assert server.process.returncode == -signal.SIGKILL
        sent_before_the_kill = len(receiver.requests)
        assert sent_before_the_kill < 20, "nothing was left queued: the kill proves nothing"
        for number in range(5):  # committed while no deliverer runs at all
            make_ticket(agent, board, f"While down {number}")

        expected = list(
            BoardEvent.objects.filter(board=board, seq__gt=webhook.cursor)
            .order_by("seq")
            .values_list("seq", flat=True)
        )
        assert len(expected) == 25
        restarted = start_daphne(env, log)
        try:
            deadline = time.monotonic() + 60
            while not all_delivered(webhook, expected, receiver) and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            restarted.process.terminate()
            restarted.process.wait(timeout=20)
    seqs = receiver.seqs()
    assert in_order_without_repeats(seqs) == expected, log.read_text()[-3000:]
    assert len(seqs) - len(expected) <= 1  # at most the one in flight at the kill
    statuses = set(WebhookDelivery.objects.filter(webhook=webhook).values_list("status", flat=True))
    assert statuses == {"delivered"}
    print(f"{sent_before_the_kill} of 25 sent before SIGKILL, the rest after the restart")


# ---------------------------------------------------------------- two workers on PostgreSQL

SEED_WEBHOOKS = """
from tests.factories import make_user, make_board
from webhooks.services import webhook_create
owner = make_user("hooks-owner")
board = make_board(owner, "Hooks")
for number in range(WEBHOOKS):
    webhook_create(actor=owner, board_id=board.pk, url=f"{BASE}/w{number}")
result = {"board": board.pk}
"""

SEED_TICKETS = """
from boards.models import Board
from tests.factories import make_ticket
board = Board.objects.get(pk=BOARD)
for number in range(TICKETS):
    make_ticket(board.created_by, board, f"Card {number}")
result = None
"""

OUTCOME = """
from webhooks.models import WebhookDelivery
rows = WebhookDelivery.objects.values_list("status", "attempts")
result = sorted({f"{status} after {attempts}" for status, attempts in rows})
"""

WEBHOOKS, TICKETS = 8, 12


@pytest.fixture
def postgres(tmp_path):
    """DATABASE_URL of a PostgreSQL database: the test database on the PostgreSQL pass,
    one of the test's own on the SQLite pass. PostgreSQL being down fails the test."""
    if connection.vendor == "postgresql":
        yield database_url()
        return
    with throwaway_database("webhooks") as url:
        env = process_env(tmp_path, database=url)
        migrate = [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"]
        done = subprocess.run(migrate, cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
        yield url


def wait_for_line(path: Path, text: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text():
            return
        assert process.poll() is None, path.read_text()[-3000:]
        time.sleep(0.05)
    raise AssertionError(f"no {text!r} in {path}: {path.read_text()[-3000:]}")


@pytest.mark.timeout(120)
def test_two_workers_never_send_one_delivery_twice_at_once(postgres, tmp_path):
    env = process_env(tmp_path, database=postgres, **FAST)
    with Receiver(delay=0.05) as receiver:
        base = receiver.url.rsplit("/", 1)[0]
        board = run_django(f"WEBHOOKS = {WEBHOOKS}\nBASE = {base!r}\n{SEED_WEBHOOKS}", env)["board"]
        command = [sys.executable, "manage.py", "deliver_webhooks", "--concurrency", "2"]
        workers, logs = [], []
        try:
            for number in range(2):
                log = tmp_path / f"worker-{number}.log"
                workers.append(
                    subprocess.Popen(
                        command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
                    )
                )
                logs.append(log)
            for worker, log in zip(workers, logs, strict=True):
                wait_for_line(log, "Delivering webhooks", worker)
            run_django(f"BOARD = {board}\nTICKETS = {TICKETS}\n{SEED_TICKETS}", env)
            receiver.wait_for(WEBHOOKS * TICKETS, timeout=60)
            time.sleep(0.3)  # anything sent twice would arrive now
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            codes = [worker.wait(timeout=30) for worker in workers]
    assert codes == [0, 0], [log.read_text()[-2000:] for log in logs]
    assert receiver.overlaps == []
    # Each worker sends to two webhooks at a time: more than two at once means both did.
    assert receiver.max_concurrent > 2
    assert len(receiver.requests) == WEBHOOKS * TICKETS
    for number in range(WEBHOOKS):
        seqs = receiver.seqs(f"/w{number}")
        assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)) == TICKETS
    assert run_django(OUTCOME, env) == ["delivered after 1"]
