"""The MCP server over streamable HTTP, served by a real daphne process (which does not
run the ASGI lifespan: the session manager must start on the first request)."""

import os

import anyio
import httpx
import pytest
from channels_redis.core import RedisChannelLayer
from mcp.types.version import LATEST_HANDSHAKE_VERSION

from agents.models import ApiToken
from agents.services import token_revoke
from boards.models import BoardEvent
from comments.models import Comment
from core.groups import board_group_name
from history.models import TicketHistory
from tests.factories import make_ticket
from tests.mcp.helpers import assert_catalogue, data, error_text, http_session
from tickets.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_agent_walks_the_whole_workflow(daphne_url, owner, work_board, agent):
    bot, secret = agent
    make_ticket(owner, work_board, "Low one", priority="low")
    urgent = make_ticket(owner, work_board, "Fix the login", priority="critical")
    make_ticket(owner, work_board, "Medium one")

    async def workflow() -> dict:
        async with http_session(daphne_url, secret) as session:
            assert_catalogue((await session.list_tools()).tools)
            boards = data(await session.call_tool("list_boards", {}))["items"]
            board_id = next(board["id"] for board in boards if board["name"] == "Work")
            claimed = data(await session.call_tool("claim_next_task", {"board_id": board_id}))
            task = claimed["task"]
            data(
                await session.call_tool(
                    "add_comment", {"task_id": task["id"], "text": "Fixed the session check."}
                )
            )
            columns = data(await session.call_tool("list_columns", {"board_id": board_id}))
            done = columns["columns"][-1]["name"]
            moved = data(
                await session.call_tool(
                    "update_task_status",
                    {"task_id": task["id"], "column": done, "version": task["version"]},
                )
            )
            full = data(await session.call_tool("get_task", {"task_id": task["id"]}))
            return {"claimed": claimed, "moved": moved, "full": full}

    answers = anyio.run(workflow)

    claimed = answers["claimed"]
    assert claimed["claimed"] is True
    assert claimed["task"]["id"] == urgent.pk
    assert claimed["task"]["claimed_by"] == "bot-1"
    assert claimed["task"]["description"] == ""  # the full task, ready to work on
    assert answers["moved"]["task"]["current_column"] == "Done"
    assert answers["moved"]["task"]["claimed_by"] is None  # finishing ends the claim
    full = answers["full"]
    assert [c["text"] for c in full["comments"]] == ["Fixed the session check."]
    assert full["comments"][0]["author"] == "bot-1"
    last_move = [row for row in full["history"] if row["field"] == "current_column"][-1]
    assert (last_move["old"], last_move["new"], last_move["by"]) == ("Backlog", "Done", "bot-1")

    ticket = Ticket.objects.get(pk=urgent.pk)
    assert ticket.column.name == "Done"
    assert ticket.claimed_by is None
    assert Comment.objects.get(ticket=ticket).author == bot
    by_agent = TicketHistory.objects.filter(ticket_id=ticket.pk, changed_by=bot)
    assert set(by_agent.values_list("field_name", flat=True)) >= {"claimed_by", "current_column"}
    assert by_agent.get(field_name="current_column").new_value == "Done"
    events = BoardEvent.objects.filter(board=work_board, actor=bot).order_by("seq")
    assert list(events.values_list("type", flat=True)) == [
        "ticket_claimed",
        "comment_added",
        "ticket_moved",
    ]
    # The other tickets were not touched by the agent.
    assert not Ticket.objects.filter(board=work_board, claimed_by__isnull=False).exists()


def test_no_token_or_a_bad_or_revoked_token_is_refused_with_401(daphne_url, agent):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"Accept": "application/json, text/event-stream"}
    missing = httpx.post(f"{daphne_url}/mcp", json=body, headers=headers)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "not_authenticated"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = httpx.post(
        f"{daphne_url}/mcp", json=body, headers={**headers, "Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401
    error = wrong.json()["error"]
    assert error["code"] == "authentication_failed"
    assert set(error) >= {"message", "code", "error_id", "timestamp", "validation_errors"}

    bot, secret = agent
    foreign = httpx.post(
        f"{daphne_url}/mcp",
        json=body,
        headers={**headers, "Host": "evil.example", "Authorization": f"Bearer {secret}"},
    )
    assert foreign.status_code == 400  # ALLOWED_HOSTS guards /mcp as it guards every page
    assert foreign.json()["error"]["code"] == "bad_request"
    accepted = httpx.post(
        f"{daphne_url}/mcp", json=body, headers={**headers, "Authorization": f"Bearer {secret}"}
    )
    # Past the token check, stateless: no session to open first, and none is handed out.
    assert accepted.status_code == 200, accepted.text
    assert '"list_boards"' in accepted.text
    assert "mcp-session-id" not in accepted.headers
    token_revoke(actor=None, token=ApiToken.objects.get(user=bot))
    revoked = httpx.post(
        f"{daphne_url}/mcp", json=body, headers={**headers, "Authorization": f"Bearer {secret}"}
    )
    assert revoked.status_code == 401
    assert revoked.json()["error"]["code"] == "authentication_failed"


def test_each_request_acts_as_its_own_agent(daphne_url, owner, work_board, agent, other_agent):
    """Two agents on one daphne at once: a claim held by one is a tool error for the other,
    carrying the API's code and message."""
    first, first_secret = agent
    _, second_secret = other_agent
    ticket = make_ticket(owner, work_board, "Contested")

    async def race() -> tuple:
        async with (
            http_session(daphne_url, first_secret) as one,
            http_session(daphne_url, second_secret) as two,
        ):
            won = data(await one.call_tool("claim_task", {"task_id": ticket.pk}))
            lost = await two.call_tool("claim_task", {"task_id": ticket.pk})
            moved = await two.call_tool(
                "update_task_status", {"task_id": ticket.pk, "column": "Done"}
            )
            return won, lost, moved

    won, lost, moved = anyio.run(race)
    assert won["task"]["claimed_by"] == "bot-1"
    assert error_text(lost).startswith(f"conflict/claimed: Ticket {ticket.pk} is claimed by bot-1")
    assert lost.structured_content["error"]["code"] == "claimed"
    assert lost.structured_content["error"]["claimed_by"] == "bot-1"
    assert error_text(moved).startswith("conflict/claimed:")
    assert Ticket.objects.get(pk=ticket.pk).claimed_by == first
    assert Ticket.objects.get(pk=ticket.pk).column.name == "Backlog"


def test_changes_reach_the_board_watchers_live(start_daphne, owner, work_board, agent):
    """A claim made over MCP in the daphne process is pushed to the board's Channels group
    on Redis, where the board's WebSocket consumers listen."""
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/9"
    url = start_daphne(REDIS_URL=redis_url)
    _, secret = agent
    ticket = make_ticket(owner, work_board, "Watched")
    layer = RedisChannelLayer(
        hosts=[redis_url], prefix=os.environ.get("CHANNEL_LAYER_PREFIX", "agent_kanban")
    )

    async def watch_a_claim() -> dict:
        channel = await layer.new_channel()
        await layer.group_add(board_group_name(work_board.pk), channel)
        async with http_session(url, secret) as session:
            data(await session.call_tool("claim_task", {"task_id": ticket.pk}))
        with anyio.fail_after(10):
            return await layer.receive(channel)

    pushed = anyio.run(watch_a_claim)
    assert pushed["type"] == "board.event"
    message = pushed["message"]
    assert (message["event"], message["actor"]) == ("ticket_claimed", "bot-1")
    assert message["data"]["id"] == ticket.pk
    assert message["data"]["claimed_by"] == "bot-1"


def test_the_older_handshake_opens_no_session(daphne_url, agent):
    """Stateless: an `initialize` of a pre-2026 client is answered without an
    Mcp-Session-Id, so its next request may reach any instance."""
    _, secret = agent
    opened = httpx.post(
        f"{daphne_url}/mcp",
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": LATEST_HANDSHAKE_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "1"},
            },
        },
        headers={
            "Accept": "application/json, text/event-stream",
            "Authorization": f"Bearer {secret}",
        },
    )
    assert opened.status_code == 200, opened.text
    assert "mcp-session-id" not in opened.headers
    assert LATEST_HANDSHAKE_VERSION in opened.text
