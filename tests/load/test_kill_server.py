"""A daphne killed with SIGKILL in the middle of a write load, then started again (as
systemd's Restart= does): every write it answered 2xx is in the database and in the
event log, the log has no gap, and the new process serves at once."""

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.load.driver import run_agents
from tests.realtime.procs import (
    DAPHNE,
    ROOT,
    Daphne,
    _wait_ready,
    free_port,
    process_env,
    run_django,
)

SECONDS = 12

STORED = """
from boards.models import BoardEvent
from tests.load.checks import event_log_gap_free
from tickets.models import Ticket
announced = BoardEvent.objects.filter(board_id=BOARD, type="ticket_created")
result = {
    "gap_free": event_log_gap_free(BOARD),
    "missing": sorted(set(CREATED) - set(Ticket.objects.values_list("pk", flat=True))),
    "unannounced": sorted(
        set(CREATED) - {event.payload["id"] for event in announced}
    ),
}
"""


def start_daphne(port: int, env: dict, log) -> Daphne:
    command = [*DAPHNE, "-p", str(port), "agent_kanban.asgi:application"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("a"), stderr=subprocess.STDOUT
    )
    server = Daphne(process, port, log)
    _wait_ready(server)
    return server


def kill_and_restart(server: Daphne, env: dict) -> Daphne:
    time.sleep(2)
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait()
    return start_daphne(server.port, env, server.log)


@pytest.mark.timeout(300)
def test_a_killed_daphne_loses_no_acknowledged_write(team, tmp_path):
    env = process_env(tmp_path, database=team.database, DEBUG="false")
    port, log = free_port(), tmp_path / "daphne.log"
    first = start_daphne(port, env, log)
    try:
        with ThreadPoolExecutor(1) as side:
            restarted = side.submit(kill_and_restart, first, env)
            outcome = run_agents([first.http], team.secrets[:16], team.board_id, seconds=SECONDS)
            second = restarted.result()
            headers = {"Authorization": f"Bearer {team.secrets[0]}"}
            served = httpx.get(f"{second.http}/api/boards/", headers=headers, timeout=30)
    finally:
        for process in (first.process, *([second.process] if "second" in locals() else [])):
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)
    print(f"daphne killed mid-load: {outcome.summary()}")
    assert first.process.returncode == -signal.SIGKILL
    assert served.status_code == 200
    assert outcome.failures, "the kill cut no request: it came too late to prove anything"
    assert outcome.bugs == 0, (outcome.errors, first.log_tail())
    assert sum(outcome.statuses.values()) > 0
    seen = run_django(f"BOARD = {team.board_id}\nCREATED = {outcome.created}\n{STORED}", env)
    assert seen == {"gap_free": True, "missing": [], "unannounced": []}


def worker_pids(master: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def kill_a_worker(master: int) -> int:
    time.sleep(2)
    victim = worker_pids(master)[0]
    os.kill(victim, signal.SIGKILL)
    return victim


@pytest.mark.timeout(300)
def test_a_killed_gunicorn_worker_loses_no_acknowledged_write(team, tmp_path):
    env = process_env(tmp_path, database=team.database, DEBUG="false")
    port, log = free_port(), tmp_path / "gunicorn.log"
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", "2", "--timeout", "60", "agent_kanban.wsgi:application"]
    master = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    server = Daphne(master, port, log)  # any server: it answers /health the same way
    try:
        _wait_ready(server)
        before = worker_pids(master.pid)
        with ThreadPoolExecutor(1) as side:
            killed = side.submit(kill_a_worker, master.pid)
            outcome = run_agents([server.http], team.secrets[:16], team.board_id, seconds=SECONDS)
            victim = killed.result()
        after = worker_pids(master.pid)
    finally:
        master.terminate()
        master.wait(timeout=20)
    print(f"gunicorn worker killed mid-load: {outcome.summary()}")
    assert victim in before and victim not in after and len(after) == 2
    assert outcome.bugs == 0, (outcome.errors, server.log_tail())
    assert outcome.statuses[201] > 0
    seen = run_django(f"BOARD = {team.board_id}\nCREATED = {outcome.created}\n{STORED}", env)
    assert seen == {"gap_free": True, "missing": [], "unannounced": []}
