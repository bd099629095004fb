"""The MCP server over stdio: `python manage.py mcp` launched by the SDK's stdio client,
as Claude Desktop or Claude Code launch it."""

import os
import subprocess
import sys

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from boards.models import BoardEvent
from comments.models import Comment
from history.models import TicketHistory
from tests.factories import make_ticket
from tests.mcp.conftest import BASE_DIR, server_env
from tests.mcp.helpers import assert_catalogue, data, error_text
from tickets.models import Ticket
from tickets.services import ticket_claim

pytestmark = pytest.mark.django_db(transaction=True)


def _launch(secret: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["manage.py", "mcp"],
        cwd=BASE_DIR,
        env=server_env(AGENT_KANBAN_TOKEN=secret),
    )


def test_an_agent_works_a_ticket_over_stdio(owner, work_board, agent, other_agent):
    bot, secret = agent
    holder, _ = other_agent
    ticket = make_ticket(owner, work_board, "Write the docs")
    held = make_ticket(owner, work_board, "Someone else's")
    ticket_claim(actor=holder, ticket_id=held.pk)

    async def workflow() -> dict:
        async with (
            stdio_client(_launch(secret)) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            assert_catalogue((await session.list_tools()).tools)
            claimed = data(await session.call_tool("claim_task", {"task_id": ticket.pk}))
            refused = await session.call_tool("claim_task", {"task_id": held.pk})
            data(await session.call_tool("add_comment", {"task_id": ticket.pk, "text": "Done."}))
            moved = data(
                await session.call_tool(
                    "update_task_status",
                    {
                        "task_id": ticket.pk,
                        "column": "done",  # column names match regardless of case
                        "version": claimed["task"]["version"],
                    },
                )
            )
            return {"claimed": claimed, "refused": refused, "moved": moved}

    answers = anyio.run(workflow)
    assert answers["claimed"]["task"]["claimed_by"] == "bot-1"
    assert error_text(answers["refused"]).startswith(
        f"conflict/claimed: Ticket {held.pk} is claimed by bot-2"
    )
    assert answers["moved"]["task"]["current_column"] == "Done"

    ticket.refresh_from_db()
    assert ticket.column.name == "Done" and ticket.claimed_by is None
    assert Comment.objects.get(ticket=ticket).author == bot
    moves = TicketHistory.objects.filter(ticket_id=ticket.pk, field_name="current_column")
    assert moves.latest("id").changed_by == bot
    assert (
        TicketHistory.objects.filter(ticket_id=ticket.pk, field_name="claimed_by")
        .latest("id")
        .changed_by
        == bot
    )
    assert set(
        BoardEvent.objects.filter(board=work_board, actor=bot).values_list("type", flat=True)
    ) == {"ticket_claimed", "comment_added", "ticket_moved"}
    assert Ticket.objects.get(pk=held.pk).claimed_by == holder


def _run_command(token: str | None, **extra_env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **server_env(**extra_env)}
    env.pop("AGENT_KANBAN_TOKEN", None)
    if token is not None:
        env["AGENT_KANBAN_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "manage.py", "mcp"],
        cwd=BASE_DIR,
        env=env,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_command_refuses_to_start_without_a_valid_token(transactional_db):
    missing = _run_command(None)
    assert missing.returncode != 0
    assert "AGENT_KANBAN_TOKEN is not set" in missing.stderr
    assert missing.stdout == ""  # stdout belongs to the protocol
    invalid = _run_command("not-a-token")
    assert invalid.returncode != 0
    assert "unknown, revoked or expired" in invalid.stderr


def _one_line(result: subprocess.CompletedProcess) -> str:
    """What a client that launched the command shows its user: one line, no traceback."""
    assert result.returncode != 0
    assert result.stdout == ""  # stdout belongs to the protocol
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_an_unmigrated_database_is_one_line_naming_it(transactional_db, agent, tmp_path):
    _, secret = agent
    empty = tmp_path / "elsewhere.sqlite3"
    line = _one_line(_run_command(secret, DATABASE_URL=f"sqlite:///{empty}"))
    assert str(empty) in line and "migrate" in line


def test_a_revoked_token_is_one_line(transactional_db, agent):
    from agents.models import ApiToken
    from agents.services import token_revoke

    _, secret = agent
    (token,) = ApiToken.objects.filter(user__username="bot-1")
    token_revoke(actor=None, token=token)
    line = _one_line(_run_command(secret))
    assert "unknown, revoked or expired" in line
    assert "AGENT_KANBAN_TOKEN is not set" in _one_line(_run_command(None))
