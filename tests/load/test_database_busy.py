"""With every pooled connection taken, each surface answers "database busy" in its own
shape — REST and pages 503 with Retry-After, an MCP tool a tool error — and counts it."""

from tests.realtime.procs import process_env, run_django

# One connection, held by a thread, so the request under test cannot get one.
HOLD_THE_ONLY_CONNECTION = """
import threading
from django.db import connection

connection.close()  # back to the pool, for the holder to take
held, release = threading.Event(), threading.Event()

def hold():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        held.set()
        release.wait(30)
    connection.close()

holder = threading.Thread(target=hold)
holder.start()
assert held.wait(10), "the holder got no connection"
"""

LET_GO = """
release.set()
holder.join()
"""


def busy_env(tmp_path, team) -> dict:
    # DEBUG off, as served: with it on, Django shows its own error page instead.
    return process_env(
        tmp_path,
        database=team.database,
        DEBUG="false",
        DATABASE_POOL_MAX=1,
        DATABASE_POOL_TIMEOUT=1,
    )


def test_rest_and_pages_answer_503_with_retry_after(team, tmp_path):
    code = f"""
from django.contrib.auth import get_user_model
from django.test import Client
from core import metrics
person = Client(raise_request_exception=False)
person.force_login(get_user_model().objects.get(username="load-owner"))
client = Client(raise_request_exception=False, HTTP_AUTHORIZATION="Bearer {team.secrets[0]}")
{HOLD_THE_ONLY_CONNECTION}
api = client.get("/api/boards/")
page = person.get("/")
{LET_GO}
after = client.get("/api/boards/")
result = {{
    "api": [api.status_code, api["Content-Type"], api.get("Retry-After"), api.json()],
    "page": [page.status_code, page.get("Retry-After")],
    "after": after.status_code,
    "counted": {{
        surface: metrics.DATABASE_BUSY.labels(surface)._value.get() for surface in ("rest", "page")
    }},
}}
"""
    seen = run_django(code, busy_env(tmp_path, team))
    status, content_type, retry_after, body = seen["api"]
    assert (status, content_type, retry_after) == (503, "application/json", "1")
    assert body["error"]["code"] == "database_busy" and body["error"]["message"]
    assert seen["page"] == [503, "1"]
    assert seen["after"] == 200
    assert seen["counted"] == {"rest": 1, "page": 1}


def test_an_mcp_tool_answers_a_tool_error(team, tmp_path):
    code = f"""
from asgiref.sync import async_to_sync
from mcp_server.identity import acting_with
from mcp_server.tools import list_boards
from mcp_server.results import call
{HOLD_THE_ONLY_CONNECTION}
with acting_with("{team.secrets[0]}"):
    answer = async_to_sync(call)(list_boards, {{}})
{LET_GO}
with acting_with("{team.secrets[0]}"):
    after = async_to_sync(call)(list_boards, {{}})
result = {{
    "error": answer.is_error,
    "text": answer.content[0].text,
    "code": answer.structured_content["error"]["code"],
    "after": after.is_error,
}}
"""
    seen = run_django(code, busy_env(tmp_path, team))
    assert seen["error"] is True and seen["code"] == "database_busy"
    assert seen["text"].startswith("database_busy: ")
    assert seen["after"] is False
