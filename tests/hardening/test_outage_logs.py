"""Issue 19, point 7: a Redis outage is logged once when it starts and once when it ends,
and counted in /metrics, however many requests meet it. Before, every request wrote a
traceback (the rate limiter's, the event push's): thousands of them a minute.

A real daphne, with rate limits on (their counters are in Redis, as in production) and a
redis-server of the test's own, stopped and started again; never the shared one."""

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.load.test_redis_fault import RedisServer
from tests.realtime.procs import ROOT, channel_prefix, daphne_servers, process_env, run_django

REQUESTS_DOWN = 100

SEED = """
from agents.services import agent_create
from boards.models import Role
from boards.services import board_create, membership_set
from django.contrib.auth import get_user_model

owner = get_user_model().objects.create_user("outage-owner", password="x" * 12)
board = board_create(actor=owner, name="Outage")
issued = agent_create(username="outage-agent")
membership_set(actor=owner, board_id=board.pk, user_id=issued.token.user.pk, role=Role.AGENT)
result = {"board_id": board.pk, "secret": issued.secret}
"""

START = "redis unavailable: "
RECOVERY = re.compile(r"redis available again after [0-9.]+ s")
COUNTED = re.compile(r'^agent_kanban_dependency_outages_total\{dependency="redis"\} (\S+)$', re.M)


def seeded(env: dict) -> dict:
    migrate = [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"]
    done = subprocess.run(migrate, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return run_django(SEED, env)


def work(client: httpx.Client, board_id: int, number: int) -> int:
    """One request of an agent's mix: reads, writes (each pushes an event through the
    channel layer) and the comprehensive health check (which asks the cache)."""
    kind = number % 4
    if kind == 0:
        response = client.post("/api/tickets/", json={"board_id": board_id, "title": f"t{number}"})
    elif kind == 1:
        response = client.get(f"/api/boards/{board_id}")
    elif kind == 2:
        response = client.get("/api/health/")
    else:
        response = client.get(f"/api/statistics/boards/{board_id}/statistics")
    return response.status_code


def recovery_logged(log: Path) -> str:
    """The server's log once it has the recovery line: with rate limits off no request
    asks Redis itself, and the server's own ping (once a second) sees it back."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if RECOVERY.search(text):
            return text
        time.sleep(0.2)
    return log.read_text(errors="replace")


# Rate limits on: every request asks Redis first (production). Off: only the pushes,
# the statistics cache and the health check do, and nothing asks once they are done.
@pytest.mark.parametrize("ratelimits", ["true", "false"])
@pytest.mark.timeout(300)
def test_an_outage_is_logged_once_and_counted(tmp_path, ratelimits):
    redis = RedisServer(tmp_path)
    redis.start()
    env = process_env(
        tmp_path,
        database=f"sqlite:///{tmp_path / 'outage.sqlite3'}",
        redis=redis.url,
        DEBUG="false",
        LOG_LEVEL="INFO",
        ACCESS_LOG="false",
        CHANNEL_LAYER_PREFIX=channel_prefix(),
        RATELIMIT_ENABLE=ratelimits,
        RATELIMIT_PER_IP="100000/m",
        RATELIMIT_WRITE="100000/m",
    )
    team = seeded(env)
    headers = {"Authorization": f"Bearer {team['secret']}"}
    board = team["board_id"]
    try:
        with (
            daphne_servers(1, env, tmp_path) as [server],
            httpx.Client(base_url=server.http, headers=headers, timeout=30) as client,
        ):
            before = [work(client, board, number) for number in range(8)]
            redis.stop()
            during = [work(client, board, number) for number in range(REQUESTS_DOWN)]
            redis.start()
            after = [work(client, board, number) for number in range(20)]
            log = recovery_logged(server.log)
            metrics = client.get("/metrics").text
    finally:
        redis.stop()

    assert set(before) <= {200, 201} and set(after) <= {200, 201}, (before, after, log[-3000:])
    # Down, every request but the comprehensive health check is still answered.
    assert {status for number, status in enumerate(during) if number % 4 != 2} <= {200, 201}
    assert {status for number, status in enumerate(during) if number % 4 == 2} == {503}

    starts = [line for line in log.splitlines() if START in line]
    recoveries = [line for line in log.splitlines() if RECOVERY.search(line)]
    assert len(starts) == 1, log[-5000:]
    assert "[WARNING]" in starts[0], starts
    assert len(recoveries) == 1, log[-5000:]
    assert "[INFO]" in recoveries[0], recoveries
    assert "Traceback" not in log, log[-5000:]
    # Nothing else warns once per request (daphne's own access lines aside).
    warnings = [line for line in log.splitlines() if re.search(r"\[(WARNING|ERROR)\]", line)]
    assert len(warnings) < 5, warnings

    counted = COUNTED.search(metrics)
    assert counted is not None, metrics[-3000:]
    assert float(counted.group(1)) == 1
