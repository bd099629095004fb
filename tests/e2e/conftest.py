"""Browser tests: a real daphne serving the test database, driven by Debian's Chromium
through Playwright. Missing Chromium is a failure (scripts/install-browser installs it)."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest
from django.db import connection

from tests.factories import make_agent

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
DAPHNE = [sys.executable, "-m", "daphne", "-b", "127.0.0.1"]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse 42"  # tests.factories.make_user's default


def database_url() -> str:
    """The test database, as DATABASE_URL for the server process."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return "sqlite:///" + str(Path(settings["NAME"]).resolve())
    user = quote(settings.get("USER") or "")
    password = quote(settings.get("PASSWORD") or "")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or "5432"
    return f"postgresql://{credentials}{host}:{port}/{quote(settings['NAME'])}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def live_server_url(django_db_setup, django_db_blocker) -> Iterator[str]:
    """daphne on a free port, on the test database (and REDIS_URL when set)."""
    with django_db_blocker.unblock():
        url = database_url()
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(DATABASE_URL=url, PYTHONUNBUFFERED="1")
    log_dir = ROOT / "test-output"
    log_dir.mkdir(exist_ok=True)
    log = open(log_dir / f"daphne-{port}.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [*DAPHNE, "-p", str(port), "agent_kanban.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                pytest.fail(f"daphne exited with {server.returncode}; see {log.name}")
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"daphne did not answer within 90 s; see {log.name}")
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture
def agent_api(live_server_url) -> Iterator[httpx.Client]:
    """An agent's REST client on the live server; tests put `agent_api.agent` on their boards."""
    agent, secret = make_agent("claude-live")
    with httpx.Client(
        base_url=live_server_url, headers={"Authorization": f"Bearer {secret}"}, timeout=10
    ) as client:
        client.agent = agent
        yield client


@pytest.fixture(scope="module")
def browser():
    """Chromium for one test module. Playwright's sync API keeps an event loop marked
    as running in this thread, which Django would take for async code: the flag that
    allows it is set only while the browser is up."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-browser")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class Watcher:
    """Console errors, uncaught exceptions and requests to other hosts, per context."""

    def __init__(self, base_url: str) -> None:
        self.host = urlsplit(base_url).netloc
        self.problems: list[str] = []
        self.allowed: list[str] = []

    def allow(self, text: str) -> None:
        """An expected console error (a refused request the test provokes on purpose)."""
        self.allowed.append(text)

    def watch(self, context) -> None:
        context.on("request", lambda request: self.check_url(request.url))
        context.on("console", self.on_console)
        context.on("weberror", lambda error: self.problems.append(f"page error: {error.error}"))
        context.on("page", lambda page: page.on("websocket", lambda ws: self.check_url(ws.url)))

    def check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme in {"data", "blob", "about"}:
            return
        if parts.netloc != self.host:
            self.problems.append(f"request to another host: {url}")

    def on_console(self, message) -> None:
        if message.type != "error":
            return
        text = message.text
        if any(allowed in text for allowed in self.allowed):
            return
        self.problems.append(f"console error: {text} at {message.location}")


@pytest.fixture
def watcher(live_server_url) -> Iterator[Watcher]:
    watcher = Watcher(live_server_url)
    yield watcher
    assert not watcher.problems, "\n".join(watcher.problems)


@pytest.fixture
def new_context(browser, live_server_url, watcher) -> Iterator[Callable]:
    """Open browser contexts (separate cookie jars: separate people); all are watched."""
    contexts = []

    def open_context(**options):
        options.setdefault("viewport", {"width": 1280, "height": 800})
        # Playwright evaluates wait_for_function's string predicates with eval, which the
        # pages' Content-Security-Policy refuses; tests/security checks the policy itself.
        options.setdefault("bypass_csp", True)
        context = browser.new_context(base_url=live_server_url, **options)
        context.set_default_timeout(10_000)
        watcher.watch(context)
        contexts.append(context)
        return context

    yield open_context
    for context in contexts:
        context.close()


def log_in(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def open_board(page, board_id: int) -> None:
    page.goto(f"/boards/{board_id}/")
    page.wait_for_selector("#board[data-ready]")
    page.wait_for_selector('[data-live-indicator][data-state="live"]')


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def eventually(check: Callable[[], object], timeout: float = 10.0, message: str = "") -> object:
    """Poll `check` (database reads, mostly) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition not met within {timeout} s")
        time.sleep(0.1)
