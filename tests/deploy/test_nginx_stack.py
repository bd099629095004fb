"""The production shape for real, through Debian's nginx: TLS, static files from disk,
plain HTTP on two gunicorn workers, WebSocket / SSE / MCP on two daphne instances,
PostgreSQL and Redis; then one daphne stops and its clients carry on on the other.

The stack (tests/deploy/conftest.py) makes its own PostgreSQL database and uses Redis
explicitly, whatever the pass: it is the same test on both, so scripts/test runs it once,
in the first pass, and deselects it in the second."""

import os
import signal
import subprocess
import time
from pathlib import Path

import anyio
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.clients import SseWatcher, WebSocketWatcher, mcp_call
from tests.deploy.stack import ROOT, UNITS, read_unit, unit_command, unit_environment

WRITES_WHILE_DOWN = 5
WRITES_AFTER = 3


@pytest.fixture
def api(stack) -> httpx.Client:
    """The admin's bearer token through nginx."""
    headers = {"Authorization": f"Bearer {stack.token}"}
    with httpx.Client(base_url=stack.https, verify=stack.tls, headers=headers, timeout=30) as c:
        yield c


def new_board(api: httpx.Client, name: str) -> tuple[int, int]:
    """A board and the sequence number of its last event."""
    created = api.post("/api/boards/", json={"name": name, "columns": ["Backlog", "Done"]})
    assert created.status_code == 201, created.text
    board_id = created.json()["id"]
    page = api.get(f"/api/boards/{board_id}/events", params={"since": 0, "format": "json"})
    assert page.status_code == 200, page.text
    return board_id, page.json()["next_since"]


def new_ticket(api: httpx.Client, board_id: int, title: str) -> dict:
    created = api.post("/api/tickets/", json={"board_id": board_id, "title": title})
    assert created.status_code == 201, created.text
    return created.json()


def instance_health(port: int) -> dict:
    """/api/health/ of one daphne, asked directly (each counts its own sockets)."""
    answer = httpx.get(
        f"http://127.0.0.1:{port}/api/health/",
        headers={"X-Forwarded-Proto": "https"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_health_checks_and_the_https_redirect(stack):
    simple = httpx.get(f"{stack.http}/api/health/simple", timeout=10)
    assert simple.status_code == 200
    assert simple.json() == {"status": "ok"}

    page = httpx.get(f"{stack.http}/api/boards/?page=2", timeout=10)
    assert page.status_code == 301
    assert page.headers["location"] == "https://127.0.0.1/api/boards/?page=2"

    full = httpx.get(f"{stack.https}/api/health/", verify=stack.tls, timeout=30)
    assert full.status_code == 200, full.text
    body = full.json()
    assert body["environment"] == "production"
    assert body["checks"]["database"]["vendor"] == "postgresql"
    assert body["checks"]["channel_layer"]["backend"] == "RedisPubSubChannelLayer"
    assert body["checks"]["cache"]["backend"] == "RedisCache"
    # Django saw HTTPS through X-Forwarded-Proto, so it sends HSTS.
    assert full.headers["strict-transport-security"].startswith("max-age=31536000")
    # nginx's request id is the app's: one id from nginx's log to the app's.
    request_id = full.headers["x-request-id"]
    access_log = stack.nginx.folder / "agent-kanban.access.log"
    deadline = time.monotonic() + 10
    while f"id={request_id} " not in access_log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    line = next(row for row in access_log.read_text().splitlines() if f"id={request_id}" in row)
    assert f"upstream={stack.env['GUNICORN_BIND']}" in line


def test_static_files_are_served_by_nginx(stack):
    styles = sorted(path for path in stack.static_root.rglob("*.css") if path.stat().st_size > 4096)
    assert styles, f"collectstatic left no stylesheet in {stack.static_root}"
    relative = styles[0].relative_to(stack.static_root).as_posix()
    answer = httpx.get(
        f"{stack.https}/static/{relative}",
        verify=stack.tls,
        headers={"Accept-Encoding": "gzip"},
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.content == styles[0].read_bytes()
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.headers["cache-control"] == "max-age=3600, public"
    assert "x-request-id" not in answer.headers  # Django never saw it

    # The app itself serves no static files in production: only nginx does.
    direct = httpx.get(
        f"http://{stack.env['GUNICORN_BIND']}/static/{relative}",
        headers={"X-Forwarded-Proto": "https"},
        timeout=10,
    )
    assert direct.status_code == 404


def test_a_body_over_the_limit_is_refused_by_nginx_in_the_error_shape(stack, api):
    limit = int(stack.env["MAX_REQUEST_BYTES"])
    answer = api.post(
        "/api/tickets/",
        content=b'{"title": "' + b"x" * limit + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 413
    error = answer.json()["error"]
    assert error["code"] == "request_too_large"
    assert error["error_id"] and error["timestamp"] and error["validation_errors"] == []


def test_log_in_write_over_rest_and_watch_over_websocket_and_sse(stack):
    with httpx.Client(base_url=stack.https, verify=stack.tls, timeout=30) as browser:
        login = browser.post(
            "/api/users/session", json={"username": "admin", "password": stack.admin_password}
        )
        assert login.status_code == 200, login.text
        session = browser.cookies["sessionid"]
        # What a page's script sends with a session write over HTTPS.
        browser.headers.update(
            {"X-CSRFToken": login.json()["csrf_token"], "Referer": f"{stack.https}/"}
        )
        board_id, since = new_board(browser, "Release")

        cookie = {"Cookie": f"sessionid={session}", "Origin": stack.https}
        socket = WebSocketWatcher(stack.https, stack.websocket_tls, board_id, since, cookie)
        stream = SseWatcher(stack.https, stack.tls, board_id, since, {"Cookie": cookie["Cookie"]})
        try:
            ticket = new_ticket(browser, board_id, "Ship the kit")
            moved = browser.post(
                f"/api/tickets/{ticket['id']}/move",
                json={"column": "Done", "version": ticket["version"]},
            )
            assert moved.status_code == 200, moved.text
            assert moved.json()["current_column"] == "Done"

            for watcher in (socket, stream):
                watcher.collect_until(since + 2)
                assert watcher.seqs == [since + 1, since + 2]
                assert [e["event"] for e in watcher.events] == ["ticket_created", "ticket_moved"]
                assert {e["actor"] for e in watcher.events} == {"admin"}
                assert watcher.events[0]["data"]["title"] == "Ship the kit"
                assert watcher.reconnects == 0
        finally:
            socket.close()
            stream.close()


def test_an_mcp_tool_runs_over_http_through_nginx(stack, api):
    board_id, since = new_board(api, "Agents")
    socket = WebSocketWatcher(stack.https, stack.websocket_tls, board_id, since, dict(api.headers))
    try:
        # One client, several requests: stateless, so whichever daphne nginx picks answers.
        listed, created, fetched = anyio.run(
            mcp_call,
            stack.https,
            stack.tls,
            stack.token,
            [
                ("list_boards", {}),
                ("create_task", {"board_id": board_id, "title": "From an agent"}),
                ("get_board_state", {"board_id": board_id}),
            ],
        )
        assert board_id in [board["id"] for board in listed["items"]]
        task = created["task"]
        assert task["title"] == "From an agent"
        assert fetched["board"]["id"] == board_id

        socket.collect_until(since + 1)
        assert [e["event"] for e in socket.events] == ["ticket_created"]
        assert socket.events[0]["data"]["id"] == task["id"]
    finally:
        socket.close()
    ticket = api.get(f"/api/tickets/{task['id']}")
    assert ticket.status_code == 200
    assert ticket.json()["created_by"] == "admin"


def test_metrics_sum_every_process(stack, api):
    board_id, since = new_board(api, "Metered")
    socket = WebSocketWatcher(stack.https, stack.websocket_tls, board_id, since, dict(api.headers))
    try:
        # /metrics is answered by a gunicorn worker; the socket is held by a daphne.
        answer = httpx.get(
            f"{stack.https}/metrics",
            verify=stack.tls,
            headers={"Authorization": f"Bearer {stack.env['METRICS_TOKEN']}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        families = {f.name: f for f in text_string_to_metric_families(answer.text)}
        sockets = families["agent_kanban_websocket_connections"]
        assert sum(sample.value for sample in sockets.samples) >= 1
    finally:
        socket.close()
    refused = httpx.get(f"{stack.https}/metrics", verify=stack.tls, timeout=30)
    assert refused.status_code in (401, 403)


def test_the_timer_jobs_run_as_their_units_say(stack, tmp_path):
    backups = Path(stack.env["BACKUP_DIR"])
    backups.mkdir(parents=True, exist_ok=True)
    stale = backups / "agent-kanban-20200101T000000Z.backup"
    stale.write_text("an old backup")
    month_ago = time.time() - 30 * 24 * 3600
    os.utime(stale, (month_ago, month_ago))

    for name in ("agent-kanban-expire-leases.service", "agent-kanban-backup.service"):
        unit = read_unit(UNITS / name)
        env = unit_environment(unit, stack.env_file)
        command = unit_command(unit, env, paths={"/opt/agent-kanban": str(ROOT)})
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"{name}:\n{done.stdout}\n{done.stderr}"

    made = sorted(backups.glob("agent-kanban-*.backup"))
    assert len(made) == 1 and made[0] != stale  # the month-old one is gone
    assert made[0].stat().st_size > 0
    assert not list(backups.glob(".*partial"))


def test_each_daphne_answers_its_full_health_check_after_serving_mcp(stack, api):
    """An operator checks each instance directly; serving MCP must not wedge that."""
    anyio.run(mcp_call, stack.https, stack.tls, stack.token, [("list_boards", {})])
    for port in stack.daphnes:
        try:
            health = instance_health(port)
        except httpx.ReadTimeout:
            pytest.fail(f"daphne on {port}: /api/health/ hangs after serving MCP")
        assert health["checks"]["channel_layer"]["status"] == "ok", health


def test_stopping_a_daphne_moves_its_clients_to_the_other_and_loses_nothing(stack, api):
    board_id, since = new_board(api, "Failover")
    auth = dict(api.headers)
    sockets = [
        WebSocketWatcher(stack.https, stack.websocket_tls, board_id, since, auth) for _ in range(2)
    ]
    stream = SseWatcher(stack.https, stack.tls, board_id, since, auth)
    watchers = [*sockets, stream]
    try:
        new_ticket(api, board_id, "Before")
        for watcher in watchers:
            watcher.collect_until(since + 1)
        # least_conn put the two sockets on different instances: each instance counts one.
        assert [socket.instance_stats()["open"] for socket in sockets] == [1, 1]

        # systemctl stop of one instance: SIGTERM, and it is gone.
        victim = next(iter(stack.daphnes))
        stack.daphnes[victim].stop(signal.SIGTERM)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{victim}/api/health/simple", timeout=5)

        titles = ["Before"]
        for number in range(WRITES_WHILE_DOWN):
            titles.append(new_ticket(api, board_id, f"While down {number}")["title"])
        # Clients notice the drop and reconnect with the last sequence number they saw.
        for watcher in watchers:
            watcher.collect_until(since + len(titles))
        assert [socket.reconnects for socket in sockets] in ([0, 1], [1, 0])
        # Both sockets now on the survivor.
        assert [socket.instance_stats()["open"] for socket in sockets] == [2, 2]

        for number in range(WRITES_AFTER):
            titles.append(new_ticket(api, board_id, f"After {number}")["title"])
        for watcher in watchers:
            watcher.collect_until(since + len(titles))

        log = api.get(
            f"/api/boards/{board_id}/events", params={"since": since, "format": "json"}
        ).json()["items"]
        assert [event["data"]["title"] for event in log] == titles
        for watcher in watchers:
            # Every event once, in order: none missed, none repeated.
            assert watcher.seqs == [event["seq"] for event in log]
            assert [event["data"]["title"] for event in watcher.events] == titles

        # MCP requests land on the survivor too.
        (listed,) = anyio.run(mcp_call, stack.https, stack.tls, stack.token, [("list_boards", {})])
        assert board_id in [board["id"] for board in listed["items"]]
    finally:
        for watcher in watchers:
            watcher.close()
