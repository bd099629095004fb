"""The Insights page in Debian's Chromium (Playwright), served by a real daphne process
reading this test's database: every chart renders with data, without console errors."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from playwright.sync_api import sync_playwright

from tests.stats.scenario import build

ROOT = Path(settings.BASE_DIR)
SCREENSHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.django_db(transaction=True)


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or "5432"
    return f"postgresql://{db['USER'] or 'postgres'}@{host}:{port}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    """A daphne process on a free port, reading and writing the test database."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url(), "VAR_DIR": str(tmp_path / "var")}
    env.update(DJANGO_SETTINGS_MODULE="agent_kanban.settings", SERVE_STATIC="true")
    log = (tmp_path / "daphne.log").open("w")
    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(
        [*command, "agent_kanban.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "daphne.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "daphne did not answer in 30s"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def session_cookie(user, url: str) -> dict:
    client = Client()
    client.force_login(user)
    return {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": url}


def open_insights(browser, server, cookie, board_id: int, scheme: str):
    context = browser.new_context(
        viewport={"width": 1280, "height": 1100},
        color_scheme=scheme,
        locale="en-GB",
        # wait_for_function evaluates its string with eval, which the page's CSP refuses.
        bypass_csp=True,
    )
    context.add_cookies([cookie])
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    page.goto(f"{server}/boards/{board_id}/insights/")
    page.wait_for_selector("#insights[data-ready='true']", timeout=15000)
    return context, page, problems


def test_every_chart_renders_with_data(server, user, agent):
    assert Path(CHROMIUM).exists(), "Chromium is missing: apt-get install -y chromium"
    known = build(user, agent)
    cookie = session_cookie(user, server)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context, page, problems = open_insights(
                browser, server, cookie, known.board.pk, "light"
            )
            flow = page.locator('[data-chart="flow"] svg')
            assert flow.locator("path.band").count() == 4  # one band per column
            assert flow.locator(".axis-label").all_text_contents() == ["Tickets", "Day (UTC)"]
            legend = page.locator('[data-chart="flow"] [data-legend] li').all_text_contents()
            assert legend == ["Backlog", "In Progress", "Testing", "Done"]

            scatter = page.locator('[data-chart="scatter"] svg')
            assert scatter.locator("circle.dot-cycle").count() == 10  # t1..t10
            assert scatter.locator("line.pline").count() == 3  # p50, p85, p95
            labels = scatter.locator("text.plabel").all_text_contents()
            assert labels == ["p50 4 h", "p85 8 h", "p95 9 h"]
            assert "Cycle time (hours)" in scatter.locator(".axis-label").all_text_contents()

            bars = page.locator('[data-chart="throughput"] svg rect.bar')
            assert bars.count() >= 4
            values = page.locator('[data-chart="throughput"] svg text.bar-value')
            assert sum(int(text) for text in values.all_text_contents()) == 10

            aging = page.locator('[data-chart="aging"] svg')
            assert aging.locator("circle.dot-green").count() == 1
            assert aging.locator("circle.dot-yellow").count() == 1
            assert aging.locator("circle.dot-red").count() == 1
            assert aging.locator("circle.dot-grey").count() == 1
            assert aging.locator("line.line-median").count() == 1  # In Progress only

            assert page.locator('[data-tile="finished"]').inner_text() == "10"
            assert page.locator('[data-tile="wip"]').inner_text() == "4"

            # The date-range picker reloads the charts for the chosen days.
            page.fill("[data-range-from]", known.day(2).isoformat())
            page.fill("[data-range-to]", known.day(4).isoformat())
            page.click("[data-range-form] button[type=submit]")
            page.wait_for_function(
                "document.querySelectorAll('[data-chart=scatter] circle.dot-cycle').length === 3"
            )
            page.wait_for_function(f"location.search.includes('from={known.day(2).isoformat()}')")
            page.click("[data-preset='30']")
            page.wait_for_function(
                "document.querySelectorAll('[data-chart=scatter] circle.dot-cycle').length === 10"
            )
            page.screenshot(path=str(SCREENSHOTS / "insights.png"), full_page=True)
            assert problems == []
            context.close()

            context, page, problems = open_insights(browser, server, cookie, known.board.pk, "dark")
            assert page.locator("svg path.band").count() == 4
            page.screenshot(path=str(SCREENSHOTS / "insights-dark.png"), full_page=True)
            assert problems == []
            context.close()
        finally:
            browser.close()
