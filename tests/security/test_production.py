"""ENVIRONMENT=production: unsafe settings stop the process at start-up with a clear
message; good ones pass `check --deploy` with no warning and serve HTTPS-only."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
STRONG_KEY = "k7Qw-2pX9zL4mN8vB3cR6tY1uJ5hG0fD-aS9eW2qZ7xC4vB8nM3lK6jH1gF5dS0a"
PRODUCTION = {
    "ENVIRONMENT": "production",
    "SECRET_KEY": STRONG_KEY,
    "ALLOWED_HOSTS": "kanban.example.com",
    "CORS_ORIGINS": '["https://kanban.example.com"]',
    "CSRF_TRUSTED_ORIGINS": "https://kanban.example.com",
}


def run(args: list[str], tmp_path: Path, **overrides: str | None) -> subprocess.CompletedProcess:
    """A fresh process with the production environment (and a SQLite file of its own)."""
    ignored = ("DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL")
    env = {key: value for key, value in os.environ.items() if key not in ignored}
    env.update(PRODUCTION, VAR_DIR=str(tmp_path / "var"))
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'production.sqlite3'}")
    env.update(DJANGO_SETTINGS_MODULE="agent_kanban.settings", LOG_LEVEL="WARNING")
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_passes_with_no_warning(tmp_path):
    done = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout, done.stdout


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DEBUG": "true"}, "DEBUG must be off"),
        ({"SECRET_KEY": None}, "SECRET_KEY is the development default"),
        ({"SECRET_KEY": "django-insecure-" + "x1y2z3" * 10}, "SECRET_KEY is the development"),
        ({"SECRET_KEY": "short-but-random-Kq81"}, "SECRET_KEY is too weak"),
        ({"SECRET_KEY": "abab" * 20}, "SECRET_KEY is too weak"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS is empty"),
        ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS must not contain '*'"),
        ({"CORS_ORIGINS": None}, "CORS_ORIGINS is empty"),
        ({"CORS_ORIGINS": "[]"}, "CORS_ORIGINS is empty"),
    ],
)
def test_unsafe_settings_stop_the_start_up(tmp_path, overrides, message):
    done = run(["manage.py", "check"], tmp_path, **overrides)
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and message in done.stderr, done.stderr[-2000:]
    assert "ENVIRONMENT=production refuses these settings" in done.stderr


def test_every_problem_is_named_at_once(tmp_path):
    done = run(["manage.py", "check"], tmp_path, SECRET_KEY=None, ALLOWED_HOSTS=None, DEBUG="1")
    assert done.returncode != 0
    for message in ("DEBUG must be off", "SECRET_KEY", "ALLOWED_HOSTS is empty"):
        assert message in done.stderr


def test_development_keeps_its_defaults(tmp_path):
    done = run(
        ["manage.py", "check", "--fail-level", "WARNING"],
        tmp_path,
        ENVIRONMENT=None,
        SECRET_KEY=None,
        ALLOWED_HOSTS=None,
        CORS_ORIGINS=None,
    )
    assert done.returncode == 0, done.stderr[-2000:]


# Runs in a production process: the test client speaks to the app as nginx would.
PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client(HTTP_HOST="kanban.example.com")
plain = client.get("/api/boards/")
health = [client.get(path).status_code for path in ("/health", "/api/health/simple")]
https = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
cookie = https.cookies["csrftoken"]
print(json.dumps({
    "plain": [plain.status_code, plain.headers.get("Location")],
    "health": health,
    "hsts": https.headers.get("Strict-Transport-Security"),
    "csp": https.headers.get("Content-Security-Policy"),
    "login": https.status_code,
    "csrf_secure": bool(cookie["secure"]),
    "session_secure": settings.SESSION_COOKIE_SECURE,
    "session_httponly": settings.SESSION_COOKIE_HTTPONLY,
}))
"""


def test_production_serves_https_only_but_health_over_plain_http(tmp_path):
    migrate = run(["manage.py", "migrate", "--noinput", "-v", "0"], tmp_path)
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    done = run(["-c", PROBE], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["plain"] == [301, "https://kanban.example.com/api/boards/"]
    assert seen["health"] == [200, 200]
    assert seen["hsts"] == "max-age=31536000; includeSubDomains"
    assert seen["csp"] and "script-src 'self'" in seen["csp"]
    assert seen["login"] == 200
    assert seen["csrf_secure"] and seen["session_secure"] and seen["session_httponly"]
