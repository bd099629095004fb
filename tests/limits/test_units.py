"""The pieces: rates from the environment, the client's address, MCP write calls."""

import json
import os

import pytest

from agent_kanban.env import env_rate
from core.http import client_ip
from core.ratelimits import Limited
from mcp_server.limits import write_calls
from tests.realtime.procs import run_django


@pytest.mark.parametrize(
    ("raw", "rate"),
    [
        (None, "60/m"),
        ("10/m", "10/m"),
        (" 100/5M ", "100/5m"),
        ("1000/h", "1000/h"),
        ("off", None),
        ("0", None),
        ("", None),
    ],
)
def test_rates_from_the_environment(monkeypatch, raw, rate):
    if raw is None:
        monkeypatch.delenv("RATELIMIT_TEST", raising=False)
    else:
        monkeypatch.setenv("RATELIMIT_TEST", raw)
    assert env_rate("RATELIMIT_TEST", "60/m") == rate


@pytest.mark.parametrize("raw", ["60", "sixty/m", "60/w", "60/m/s"])
def test_a_bad_rate_stops_the_start(monkeypatch, raw):
    monkeypatch.setenv("RATELIMIT_TEST", raw)
    with pytest.raises(ValueError, match="RATELIMIT_TEST"):
        env_rate("RATELIMIT_TEST", "60/m")


def test_the_seed_defaults(tmp_path):
    """With nothing in the environment: the seed's 60 writes and 10 bulk operations a
    minute per user, 10 WebSocket connects a minute; all on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RATELIMIT_")}
    env.update(DJANGO_SETTINGS_MODULE="agent_kanban.settings", VAR_DIR=str(tmp_path))
    code = (
        "from django.conf import settings as s\n"
        "result = [s.RATELIMIT_ENABLE, s.RATELIMIT_WRITE, s.RATELIMIT_BULK,"
        " s.RATELIMIT_LOGIN, s.RATELIMIT_WS_CONNECT, s.RATELIMIT_PER_IP]"
    )
    assert run_django(code, env) == [True, "60/m", "10/m", "10/m", "10/m", "1200/m"]


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "client"),
    [
        ([], "10.1.1.1", None, "10.1.1.1"),
        ([], "10.1.1.1", "1.2.3.4", "10.1.1.1"),  # not behind a trusted proxy
        (["127.0.0.1"], "127.0.0.1", "1.2.3.4", "1.2.3.4"),
        (["127.0.0.1"], "127.0.0.1", "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # right-most only
        (["127.0.0.1", "10.0.0.0/8"], "127.0.0.1", "1.2.3.4, 10.9.9.9", "1.2.3.4"),
        (["127.0.0.1"], "10.1.1.1", "1.2.3.4", "10.1.1.1"),  # peer is not the proxy
        (["127.0.0.1"], "127.0.0.1", "garbage", "127.0.0.1"),
        (["127.0.0.1"], "127.0.0.1", "127.0.0.1", "127.0.0.1"),  # only proxies
        (["127.0.0.1"], "", "1.2.3.4", "1.2.3.4"),  # a Unix socket peer
        ([], "2001:db8::1", None, "2001:db8::"),
    ],
)
def test_the_client_address(settings, proxies, remote, forwarded, client):
    settings.TRUSTED_PROXIES = proxies
    assert client_ip(remote, forwarded) == client


def test_the_message_names_the_limit():
    limited = Limited(group="write", rate="100/5m", retry_after=42)
    assert limited.message == ("Too many writes: at most 100 per 5 minutes. Try again in 42 s.")


def call(name: str, number: int = 1) -> dict:
    return {"jsonrpc": "2.0", "id": number, "method": "tools/call", "params": {"name": name}}


@pytest.mark.parametrize(
    ("payload", "count"),
    [
        (call("create_task"), 1),
        (call("list_boards"), 0),
        ([call("create_task", 1), call("add_comment", 2), call("get_task", 3)], 2),
        ({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}, 0),
        ({"method": "tools/call", "params": "create_task"}, 0),
        ("not json", 0),
    ],
)
def test_mcp_write_calls(payload, count):
    body = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
    assert write_calls(body) == count


def test_mcp_body_nested_too_deeply_is_not_counted():
    assert write_calls(b"[" * 100_000 + b"]" * 100_000) == 0
