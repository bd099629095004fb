"""The real servers: a daphne process counts its WebSocket connections and logs JSON
with request ids; in the production shape (gunicorn workers beside daphne, one
PROMETHEUS_MULTIPROC_DIR) any process reports the figures of all of them."""

import json
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.factories import make_agent
from tests.observability.scrape import value
from tests.realtime.procs import ROOT, daphne_servers, database_url, free_port, process_env

pytestmark = pytest.mark.django_db(transaction=True)

OPEN = "agent_kanban_websocket_connections"
CONNECTS = "agent_kanban_websocket_connects_total"
CLOSES = "agent_kanban_websocket_server_closes_total"


def metrics(base: str) -> str:
    response = httpx.get(f"{base}/metrics", timeout=30)
    assert response.status_code == 200, response.text
    return response.text


def wait_for(base: str, name: str, expected: float, timeout: float = 30, **labels) -> str:
    """Scrape until the sample reads `expected` (a disconnect is handled after the
    client's close returns); the last page read."""
    deadline = time.monotonic() + timeout
    while True:
        text = metrics(base)
        if value(text, name, **labels) == expected or time.monotonic() > deadline:
            assert value(text, name, **labels) == expected, text
            return text
        time.sleep(0.2)


@pytest.fixture
def secret(db) -> str:
    return make_agent("watcher")[1]


def test_websocket_gauge_follows_a_real_connection(secret, tmp_path):
    env = process_env(tmp_path, database=database_url())
    auth = {"Authorization": f"Bearer {secret}"}
    with daphne_servers(1, env, tmp_path) as (server,):
        start = metrics(server.http)
        assert value(start, OPEN) == 0
        with connect(f"{server.ws}/ws/connect", additional_headers=auth) as socket:
            socket.send(json.dumps({"type": "ping"}))
            assert json.loads(socket.recv(timeout=15))["type"] == "pong"
            during = metrics(server.http)
            assert value(during, OPEN) == 1
            assert value(during, CONNECTS) - value(start, CONNECTS) == 1
        wait_for(server.http, OPEN, 0)

        # Refused after accept (not signed in): counted, closed with 4401, not left open.
        with connect(f"{server.ws}/ws/connect") as anonymous:
            with pytest.raises(ConnectionClosed) as closed:
                anonymous.recv(timeout=15)
            assert closed.value.rcvd.code == 4401
        text = wait_for(server.http, OPEN, 0)
        assert value(text, CLOSES, code="4401") - value(start, CLOSES, code="4401") == 1
        assert value(text, CONNECTS) - value(start, CONNECTS) == 2


def test_daphne_logs_json_lines_with_the_request_id(tmp_path):
    env = process_env(tmp_path, database=database_url(), LOG_FORMAT="json", LOG_LEVEL="INFO")
    with daphne_servers(1, env, tmp_path) as (server,):
        response = httpx.get(
            f"{server.http}/api/boards", headers={"X-Request-ID": "daphne-req-1"}, timeout=30
        )
        assert response.status_code == 401
        assert response.headers["X-Request-ID"] == "daphne-req-1"
        assert response.json()["error"]["request_id"] == "daphne-req-1"

        # The async view (server-sent events) behind the same middleware.
        events = httpx.get(f"{server.http}/api/boards/1/events?format=json", timeout=30)
        assert events.status_code == 401
        generated = events.headers["X-Request-ID"]
        assert events.json()["error"]["request_id"] == generated

        text = metrics(server.http)
        route = {"route": "/api/boards/<board_id>/events", "method": "GET", "status": "4xx"}
        assert value(text, "agent_kanban_http_requests_total", **route) == 1

        deadline = time.monotonic() + 15
        while True:
            lines = [
                json.loads(row)
                for row in server.log.read_text(errors="replace").splitlines()
                if row.startswith("{")
            ]
            access = {
                line["request_id"]: line
                for line in lines
                if line["logger"] == "agent_kanban.access"
            }
            if {"daphne-req-1", generated} <= set(access) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert access["daphne-req-1"]["route"] == "/api/boards"
    assert access["daphne-req-1"]["status"] == 401
    assert access[generated]["route"] == "/api/boards/<board_id>/events"
    assert {"time", "level", "logger", "message", "request_id"} <= set(access[generated])


@contextmanager
def gunicorn(env: dict, log: Path, workers: int = 2):
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}"]
    process = subprocess.Popen(
        [*command, "agent_kanban.wsgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_multiprocess_mode_sums_gunicorn_and_daphne(secret, tmp_path):
    shared = tmp_path / "prometheus"
    env = process_env(tmp_path, database=database_url(), PROMETHEUS_MULTIPROC_DIR=shared)
    auth = {"Authorization": f"Bearer {secret}"}
    labels = {"route": "/api/boards", "method": "GET", "status": "4xx"}
    with gunicorn(env, tmp_path / "gunicorn.log") as web, ExitStack() as sockets:
        with daphne_servers(1, env, tmp_path) as (live,):
            socket = sockets.enter_context(
                connect(f"{live.ws}/ws/connect", additional_headers=auth)
            )
            socket.send(json.dumps({"type": "ping"}))
            assert json.loads(socket.recv(timeout=15))["type"] == "pong"
            # gunicorn answers for daphne's connection, and for requests daphne served.
            assert httpx.get(f"{live.http}/api/boards", timeout=30).status_code == 401
            text = metrics(web)
            assert value(text, OPEN) == 1 and value(text, CONNECTS) == 1
            assert value(text, "agent_kanban_http_requests_total", **labels) == 1
            for _ in range(4):  # whichever worker answers, it reads the same files
                assert value(metrics(web), OPEN) == 1
            # daphne dies with the connection open, no chance to count it out.
            live.process.kill()
            live.process.wait()
        text = metrics(web)
        # Its live gauge is forgotten; its counters stay, so totals never go back.
        assert value(text, OPEN) == 0
        assert value(text, CONNECTS) == 1
        assert value(text, "agent_kanban_http_requests_total", **labels) == 1
        assert not list(shared.glob(f"gauge_live*_{live.process.pid}.db"))
