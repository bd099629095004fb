"""Health and status: /health, /api/health/simple, /api/health/ and /api/status."""

import json
from datetime import datetime

import pytest
from django.conf import settings
from django.db import connection

import agent_kanban
from tests.factories import make_board, make_ticket

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/health", "/api/health/simple", "/api/health/simple/"])
def test_simple_checks_need_no_login(anon, path):
    response = anon.get(path)
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/api/health/", "/api/health"])
def test_full_health_needs_no_login_and_reports_everything(anon, user, path):
    board = make_board(user, "B")
    make_ticket(user, board)
    make_ticket(user, board)

    response = anon.get(path)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"] == agent_kanban.__version__
    assert body["environment"] == settings.ENVIRONMENT
    assert body["uptime_seconds"] >= 0
    assert datetime.fromisoformat(body["started_at"]).utcoffset() is not None
    checks = body["checks"]
    assert {"database", "cache", "channel_layer"} <= set(checks)
    assert all(check["status"] == "ok" for check in checks.values()), checks
    assert checks["database"]["vendor"] == connection.vendor
    assert isinstance(checks["database"]["latency_ms"], int | float)
    assert checks["database"]["latency_ms"] >= 0
    # The embedded defaults, or Redis for both when REDIS_URL is set.
    redis = bool(settings.REDIS_URL)
    assert checks["cache"]["backend"] == ("RedisCache" if redis else "LocMemCache")
    assert checks["channel_layer"]["backend"] == (
        "RedisChannelLayer" if redis else "InMemoryChannelLayer"
    )
    assert body["counts"] == {"boards": 1, "tickets": 2}


def test_full_health_ignores_a_bad_token(anon):
    """Load balancers may send stale credentials; health must not turn into a 401."""
    anon.credentials(HTTP_AUTHORIZATION="Bearer nonsense")
    assert anon.get("/api/health/").status_code == 200


@pytest.mark.parametrize("path", ["/api/status", "/api/status/"])
def test_status_needs_no_identity_and_tells_nothing_private(anon, path):
    """Monitors call it as they call the health checks: no credentials, even stale ones."""
    anon.credentials(HTTP_AUTHORIZATION="Bearer stale")
    response = anon.get(path)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"name", "version", "status", "server_time", "uptime_seconds", "answers"}
    assert body["name"] == "Agent Kanban"
    assert body["version"] == agent_kanban.__version__
    assert body["status"] == "ok"
    assert body["uptime_seconds"] >= 0
    assert datetime.fromisoformat(body["server_time"]).utcoffset() is not None
    assert body["answers"] == {"database": True, "cache": True, "channel_layer": True}


def test_status_says_which_dependency_does_not_answer(anon, monkeypatch):
    from agent_kanban import health

    def down():
        raise ConnectionError("cache at 10.0.0.7:6379 refused")

    monkeypatch.setattr(health, "_cache", down)
    body = anon.get("/api/status").json()
    assert body["status"] == "degraded"
    assert body["answers"] == {"database": True, "cache": False, "channel_layer": True}
    assert "10.0.0.7" not in json.dumps(body)
