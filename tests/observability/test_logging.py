"""Structured logs: one JSON object a line, each carrying the request id that the
response's X-Request-ID header and the error envelope carry too."""

import contextvars
import io
import json
import logging
import re
import sys

import pytest

from core.log_format import JsonFormatter, RequestIdFilter
from core.request_id import current_request_id
from tests.api.envelope import assert_error

HEX_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def json_lines():
    """Every log record of the test, as the JSON lines LOG_FORMAT=json writes."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root, access = logging.getLogger(), logging.getLogger("agent_kanban.access")
    old_levels = root.level, access.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    access.setLevel(logging.INFO)

    def read() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield read
    root.removeHandler(handler)
    root.setLevel(old_levels[0])
    access.setLevel(old_levels[1])


def test_formatter_writes_one_json_object_with_extras_and_the_exception():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("t").makeRecord(
            "t",
            logging.ERROR,
            __file__,
            1,
            "failed %s",
            ("x",),
            sys.exc_info(),
            extra={"ticket_id": 7, "when": object()},
        )
    RequestIdFilter().filter(record)
    line = JsonFormatter().format(record)
    assert len(line.splitlines()) == 1  # the traceback's newlines are escaped
    data = json.loads(line)
    assert data["level"] == "ERROR" and data["logger"] == "t"
    assert data["message"] == "failed x"
    assert data["ticket_id"] == 7 and data["when"].startswith("<object")
    assert "ValueError: boom" in data["exception"]
    assert data["time"].endswith("+00:00")
    assert "request_id" in data


def test_a_sane_incoming_request_id_is_passed_through(api):
    response = api.get("/api/boards", HTTP_X_REQUEST_ID="edge-7f3a.42:x")
    assert response["X-Request-ID"] == "edge-7f3a.42:x"


@pytest.mark.parametrize("given", ["", "has space", "x" * 200, "<script>", "a\u00e9b", "-lead"])
def test_an_odd_incoming_request_id_is_replaced(api, given):
    response = api.get("/api/boards", HTTP_X_REQUEST_ID=given)
    assert HEX_ID.fullmatch(response["X-Request-ID"]), response["X-Request-ID"]


def test_each_request_gets_its_own_id(api):
    first, second = api.get("/api/boards"), api.get("/api/boards")
    assert HEX_ID.fullmatch(first["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_error_envelope_header_and_log_lines_share_the_request_id(api, user, json_lines):
    response = api.get("/api/tickets/999999999")
    error = assert_error(response, 404, "not_found")
    request_id = response["X-Request-ID"]
    assert error["request_id"] == request_id
    assert error["error_id"] != request_id  # the error's own id stays as it was

    lines = [line for line in json_lines() if line["request_id"] == request_id]
    access = [line for line in lines if line["logger"] == "agent_kanban.access"]
    assert len(access) == 1, lines
    assert access[0] | {"duration_ms": 0} == access[0] | {
        "level": "INFO",
        "method": "GET",
        "route": "/api/tickets/<pk>",
        "path": "/api/tickets/999999999",
        "status": 404,
        "user_id": user.pk,
        "duration_ms": 0,
    }
    assert access[0]["duration_ms"] >= 0
    # Django's own line about the 404 is written after the middleware: it has the id too.
    assert any(line["logger"] == "django.request" for line in lines), lines


def test_an_incoming_id_reaches_the_envelope_and_the_logs(anon, json_lines):
    response = anon.get("/api/boards", HTTP_X_REQUEST_ID="from-nginx-1")
    error = assert_error(response, 401, "not_authenticated")
    assert error["request_id"] == response["X-Request-ID"] == "from-nginx-1"
    access = [line for line in json_lines() if line["logger"] == "agent_kanban.access"]
    assert [line["request_id"] for line in access] == ["from-nginx-1"]
    assert access[0]["user_id"] is None


def test_no_request_id_outside_a_request():
    record = logging.getLogger("t").makeRecord("t", logging.INFO, __file__, 1, "hi", (), None)
    # A fresh context: what a management command or a worker thread starts with.
    data = json.loads(contextvars.Context().run(JsonFormatter().format, record))
    assert data["message"] == "hi" and data["request_id"] is None


def test_a_thread_keeps_no_stale_id_once_its_request_is_done(api):
    response = api.get("/api/boards")
    assert response.status_code == 200 and HEX_ID.fullmatch(response["X-Request-ID"])
    assert current_request_id() is None
