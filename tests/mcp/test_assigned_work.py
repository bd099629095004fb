"""Over MCP too, work assigned to someone is theirs: claim_next_task, the ready resource
and wait_for_work leave it to them unless the agent asks for it (`include_assigned`)."""

import pytest

from mcp_server.work import ready_now
from tests.factories import make_ticket, make_user
from tests.mcp.helpers import call, data

pytestmark = pytest.mark.django_db(transaction=True)


def test_claim_next_task_leaves_assigned_work_unless_asked(owner, work_board, agent):
    bot, secret = agent
    make_user("maria")
    hers = make_ticket(owner, work_board, "Maria's", priority="critical", assignee="maria")
    free = make_ticket(owner, work_board, "Anyone's", priority="low")

    assert [task["id"] for task in ready_now(bot, work_board.pk)["tasks"]] == [free.pk]
    first = data(call(secret, "claim_next_task", board_id=work_board.pk))
    assert (first["task"]["id"], first["task"]["assignee"]) == (free.pk, "bot-1")
    assert data(call(secret, "claim_next_task", board_id=work_board.pk))["claimed"] is False
    widened = data(call(secret, "claim_next_task", board_id=work_board.pk, include_assigned=True))
    assert (widened["task"]["id"], widened["task"]["assignee"]) == (hers.pk, "maria")
