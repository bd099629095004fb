"""Reading settings from the environment (and an optional `.env` file)."""

import json
import os
import re
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlparse


def load_dotenv(path: Path) -> None:
    """Put KEY=VALUE lines of `path` into os.environ unless already set there."""
    if not path.is_file():
        return
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        os.environ.setdefault(key, value)


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    """A JSON list (`["a", "b"]`, as the seed writes CORS_ORIGINS) or a comma list."""
    value = os.environ.get(name, "").strip()
    if not value:
        return list(default or [])
    if value.startswith("["):
        return [str(item) for item in json.loads(value)]
    return [item.strip() for item in value.split(",") if item.strip()]


def database_from_url(url: str, base_dir: Path) -> dict:
    """Translate `sqlite:///path` or `postgresql://user:pw@host:port/name` to a DATABASES entry."""
    parsed = urlparse(url)
    options = dict(parse_qsl(parsed.query))
    if parsed.scheme == "sqlite":
        # sqlite:///var/db.sqlite3 is relative to the project, sqlite:////abs/db.sqlite3 absolute.
        path = Path(unquote(parsed.path[1:]))
        return sqlite_database(path if path.is_absolute() else base_dir / path)
    if parsed.scheme in {"postgres", "postgresql", "pgsql"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")),
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            **postgres_connections(options),
        }
    raise ValueError(f"DATABASE_URL scheme {parsed.scheme!r} is not supported (sqlite, postgresql)")


def postgres_connections(options: dict) -> dict:
    """How one process holds its PostgreSQL connections.

    A pool by default (DATABASE_POOL_MAX connections at most, handed to a request for
    its length): under daphne each request runs in a thread of its own, and persistent
    connections (one per thread, never closed) ran PostgreSQL out of connections.
    A request that waits DATABASE_POOL_TIMEOUT seconds for one gets 503 `database_busy`.
    Django has the pool check each connection as it hands it out, so one the server
    killed is replaced rather than failing a request. DATABASE_POOL_MAX=0 keeps Django's
    persistent connections (DATABASE_CONN_MAX_AGE seconds) instead."""
    size = env_int("DATABASE_POOL_MAX", 10)
    if env_bool("DATABASE_PREPARED_STATEMENTS", True):
        # Parameters bound by the server, and a statement run five times on a connection
        # prepared there: PostgreSQL then skips planning it (0.37 ms of the ticket's
        # 0.47 ms read). Off behind a pooler that hands connections out per transaction.
        options = {"server_side_binding": True, "prepare_threshold": 5, **options}
    if size <= 0:
        return {
            "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 60),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    pool = {
        "min_size": max(0, min(env_int("DATABASE_POOL_MIN", 1), size)),
        "max_size": size,
        "timeout": env_float("DATABASE_POOL_TIMEOUT", 3.0),
    }
    return {"CONN_MAX_AGE": 0, "CONN_HEALTH_CHECKS": True, "OPTIONS": {**options, "pool": pool}}


def sqlite_database(path: Path) -> dict:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            # WAL lets readers run beside the one writer; IMMEDIATE takes the write
            # lock when a transaction starts, so writers queue instead of deadlocking.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": env_int("SQLITE_BUSY_TIMEOUT", 20),
        },
        "TEST": {"NAME": str(path.with_name("test-" + path.name))},
    }


RATE_PATTERN = re.compile(r"^\d+/\d*[smhd]$")
RATE_OFF = {"", "0", "off", "none", "false"}


def env_rate(name: str, default: str | None) -> str | None:
    """A django-ratelimit rate such as `60/m` or `100/5m`; empty, `0` or `off` → None
    (no limit)."""
    value = os.environ.get(name)
    if value is None:
        return default
    value = value.strip().lower()
    if value in RATE_OFF:
        return None
    if not RATE_PATTERN.match(value):
        raise ValueError(f"{name}={value!r} is not a rate like 60/m, 10/5m or 1000/h (or off)")
    return value
