"""Redis stops in the middle of a load and comes back: REST answers every request (the
cache and the live pushes degrade, writes succeed), the comprehensive health check says
so with a 503 while the simple one stays 200, and the event log has every write."""

import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.load.driver import run_agents
from tests.realtime.procs import (
    channel_prefix,
    daphne_servers,
    free_port,
    process_env,
    run_django,
)

SECONDS = 8

# The full check, board counter included: Redis only carries the pushes, while each
# event and its counter bump share one database transaction, so an outage cannot part them.
LOGGED = """
from boards.models import BoardEvent
from tests.load.checks import event_log_gap_free
from tickets.models import Ticket
result = {
    "gap_free": event_log_gap_free(BOARD),
    "created_events": BoardEvent.objects.filter(board_id=BOARD, type="ticket_created").count(),
    "tickets": Ticket.objects.filter(board_id=BOARD).count(),
}
"""


class RedisServer:
    """A redis-server of the test's own, to stop and start again on the same port."""

    def __init__(self, folder) -> None:
        self.port, self.folder, self.process = free_port(), folder, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ping = subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True)
            if ping.stdout.strip() == b"PONG":
                return
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def outage(redis: RedisServer, base: str) -> dict:
    """Stop Redis two seconds in, look at the health checks, start it again."""
    time.sleep(2)
    redis.stop()
    time.sleep(0.5)
    seen = {
        "comprehensive": httpx.get(f"{base}/api/health/", timeout=30).status_code,
        "simple": httpx.get(f"{base}/health", timeout=30).status_code,
    }
    time.sleep(2)
    redis.start()
    return seen


@pytest.mark.timeout(300)
def test_rest_keeps_answering_while_redis_is_down(team, tmp_path):
    redis = RedisServer(tmp_path)
    redis.start()
    env = process_env(tmp_path, database=team.database, redis=redis.url, DEBUG="false")
    try:
        with daphne_servers(1, env, tmp_path) as [server], ThreadPoolExecutor(1) as side:
            health = side.submit(outage, redis, server.http)
            outcome = run_agents([server.http], team.secrets[:16], team.board_id, seconds=SECONDS)
            during = health.result()
            after = httpx.get(f"{server.http}/api/health/", timeout=30).status_code
    finally:
        redis.stop()
    print(f"Redis down for 2.5 s: {outcome.summary()}; health {during}, after {after}")
    assert outcome.failures == []
    assert outcome.server_errors == 0, (outcome.errors, server.log_tail())
    assert outcome.statuses[201] > 0
    assert during == {"comprehensive": 503, "simple": 200}
    assert after == 200
    logged = run_django(f"BOARD = {team.board_id}\n{LOGGED}", env)
    assert logged["gap_free"]
    assert logged["created_events"] == logged["tickets"] >= len(outcome.created)


def watch(ws: str, secret: str, board_id: int, since: int, want: int, deadline: float) -> dict:
    """A client that reconnects (with `since`, its last event) whenever its socket ends,
    until it has seen `want` events after `since`; returns the sequence numbers it
    received, in order, and how often it had to connect."""
    seqs, connects = [since], 0
    want += 1
    headers = {"Authorization": f"Bearer {secret}"}
    while len(set(seqs)) < want and time.monotonic() < deadline:
        since = max(seqs)
        try:
            connects += 1
            url = f"{ws}/ws/connect?board_id={board_id}&since={since}"
            with connect(url, additional_headers=headers, open_timeout=10) as socket:
                while len(set(seqs)) < want and time.monotonic() < deadline:
                    message = json.loads(socket.recv(timeout=max(0.1, deadline - time.monotonic())))
                    if "seq" in message and "event" in message:
                        seqs.append(message["seq"])
        except (OSError, TimeoutError, ConnectionClosed, InvalidStatus):
            time.sleep(0.3)
    return {"seqs": seqs[1:], "connects": connects}


@pytest.mark.timeout(300)
def test_websocket_watchers_catch_up_once_redis_returns(team, tmp_path):
    redis = RedisServer(tmp_path)
    redis.start()
    env = process_env(
        tmp_path,
        database=team.database,
        redis=redis.url,
        DEBUG="false",
        CHANNEL_LAYER_PREFIX=channel_prefix(),
        WS_HEARTBEAT_SECONDS=1,
    )
    secret = team.secrets[0]
    headers = {"Authorization": f"Bearer {secret}"}
    board = team.board_id
    start = run_django(
        f"from boards.models import Board\nresult = Board.objects.get(pk={board}).last_event_seq",
        env,
    )
    try:
        with daphne_servers(2, env, tmp_path) as (writer, watcher), ThreadPoolExecutor(1) as side:

            def create(count: int) -> None:
                for number in range(count):
                    body = {"board_id": board, "title": f"while watched {number}"}
                    made = httpx.post(
                        f"{writer.http}/api/tickets/", json=body, headers=headers, timeout=30
                    )
                    assert made.status_code == 201, made.text

            watching = side.submit(
                watch, watcher.ws, secret, board, start, 15, time.monotonic() + 90
            )
            time.sleep(1.5)
            create(5)
            redis.stop()
            create(5)  # the writes succeed; their pushes are lost
            time.sleep(1)
            redis.start()
            create(5)
            seen = watching.result()
    finally:
        redis.stop()
    print(f"watcher through a Redis outage: {seen['connects']} connects")
    received = [seq for seq in seen["seqs"] if seq > start]
    assert sorted(set(received)) == list(range(start + 1, start + 16)), seen
    assert len(received) == len(set(received)), "an event arrived twice"
