"""Real processes for the real-time tests: daphne servers and one-off Django scripts,
pointed at the test's own database (and, where processes must talk, Redis)."""

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx
from django.conf import settings
from django.db import connection

ROOT = Path(settings.BASE_DIR)
# The Redis the cross-process tests use even on the SQLite pass, where the app itself
# runs without one: the in-memory channel layer cannot reach another process.
REDIS_URL = os.environ.get("REDIS_URL") or os.environ.get(
    "REALTIME_REDIS_URL", "redis://127.0.0.1:6379/14"
)


# The handshake allowance of the kit's daphne unit (deploy/systemd/agent-kanban-daphne@.service).
DAPHNE = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "--websocket_connect_timeout", "20"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url() -> str:
    """DATABASE_URL of the database this test runs on (the test database)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or "5432"
    return f"postgresql://{db['USER'] or 'postgres'}@{host}:{port}/{db['NAME']}"


def process_env(tmp_path: Path, *, database: str, redis: str | None = None, **extra) -> dict:
    # The servers get the database settings a deployment has, not the test process's.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "DATABASE_URL") and not k.startswith("DATABASE_POOL_")
    }
    env.update(DATABASE_URL=database, VAR_DIR=str(tmp_path / "var"), LOG_LEVEL="WARNING")
    env.update(DJANGO_SETTINGS_MODULE="agent_kanban.settings", RATELIMIT_ENABLE="false")
    if redis:
        env["REDIS_URL"] = redis
    env.update({key: str(value) for key, value in extra.items()})
    return env


def channel_prefix() -> str:
    """A channel-layer prefix of this test's own, so runs sharing a Redis never meet."""
    return f"ak-test-{uuid.uuid4().hex[:12]}"


def use_redis_layer(settings, url: str = REDIS_URL) -> str:
    """Point this process's channel layer (through pytest-django's `settings`) at the
    Redis at `url` under a prefix of the test's own; returns the prefix for the servers
    the test starts."""
    prefix = channel_prefix()
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": url, "socket_timeout": settings.REDIS_SOCKET_TIMEOUT}],
                "prefix": prefix,
            },
        }
    }
    return prefix


def run_django(code: str, env: dict, timeout: float = 120) -> dict:
    """Run `code` in a fresh Python process with Django set up; it sets `result`,
    which comes back as JSON."""
    script = (
        "import json, django\ndjango.setup()\nresult = None\n"
        f"{code}\nprint('RESULT=' + json.dumps(result))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = [row for row in done.stdout.splitlines() if row.startswith("RESULT=")][-1]
    return json.loads(line.removeprefix("RESULT="))


class Daphne:
    def __init__(self, process: subprocess.Popen, port: int, log: Path) -> None:
        self.process, self.port, self.log = process, port, log
        self.http = f"http://127.0.0.1:{port}"
        self.ws = f"ws://127.0.0.1:{port}"

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@contextmanager
def daphne_servers(count: int, env: dict, log_dir: Path):
    """Start `count` daphne processes on free ports; wait until each answers; stop
    them all however the test ends."""
    servers = []
    try:
        for index in range(count):
            port = free_port()
            log = log_dir / f"daphne-{index}-{port}.log"
            process = subprocess.Popen(
                [*DAPHNE, "-p", str(port), "agent_kanban.asgi:application"],
                cwd=ROOT,
                env=env,
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
            )
            servers.append(Daphne(process, port, log))
        for server in servers:
            _wait_ready(server)
        yield servers
    finally:
        for server in servers:
            server.process.terminate()
        for server in servers:
            try:
                server.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()


def _wait_ready(server: Daphne, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"daphne exited early:\n{server.log_tail()}")
        try:
            if httpx.get(f"{server.http}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"daphne did not answer in {timeout}s:\n{server.log_tail()}")
