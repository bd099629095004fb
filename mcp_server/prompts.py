"""The MCP prompt: how an agent works on one board, with that board's columns and limits."""

from mcp.server import MCPServer

from boards.selectors import board_columns, board_get
from core.errors import NotFound
from core.ids import is_id
from mcp_server.identity import current_actor
from mcp_server.resources import board_uri, ready_uri
from mcp_server.threads import on_mcp_threads

LOOP = """\
You work on the Agent Kanban board "{name}" (board_id {board_id}). Its columns, in order:
{columns}
Tasks that reach "{last}" are finished. A column's limit is how many tasks it may hold.

The loop:
1. Get work. Call wait_for_work(board_id={board_id}): it returns a task as soon as one is
   ready for you (or {{"task": null}} at its timeout: call it again). It does not claim.
   Then claim_next_task(board_id={board_id}) takes the best ready task and holds it for
   you for a lease; keep its `claim_token`. (Clients that read notifications can instead
   listen on {ready} and claim when it changes.)
2. Read the task in full (get_task) and do the work. If it takes longer than the lease,
   call heartbeat with the task id and your claim_token before the lease runs out.
3. Say what you did: add_comment on the task, with your claim_token.
4. Finish: update_task_status to "{last}" with the version you last read and your
   claim_token. A `lease_lost` error means your lease ran out and someone else has the
   task now: stop working on it and go back to 1.
5. If you cannot finish, release_task so that someone else can take it.
{review}
Errors name a code: conflict/claimed (someone else holds the task), conflict/wip_limit
(the column is full), version_conflict (the task changed since you read it: read it
again). The board changes live: {board} is its current state, and
get_board_events(board_id={board_id}, since=N) the changes after event N."""


REVIEW = """\
Review gates: a task passes {gates} only by someone else's approval. Finish your part by
moving the task into the review column (update_task_status); moving it past is refused
with conflict/review_required. If changes are requested, the task comes back to the
column before, unclaimed, with the reviewer's comment (get_task): claim it again.
You may review others' tasks there with review_task, never your own.
"""


def work_on_board_text(actor, board_id: int) -> str:
    board = board_get(actor=actor, board_id=board_id)
    columns = board_columns(board_id=board_id)
    lines = [
        f"- {column['name']}"
        + (f" (limit {column['wip_limit']})" if column["wip_limit"] else "")
        + (" (requires review)" if column["requires_review"] else "")
        + f": {column['ticket_count']} now"
        for column in columns
    ]
    gates = [column["name"] for column in columns if column["requires_review"]]
    return LOOP.format(
        name=board.name,
        board_id=board_id,
        columns="\n".join(lines),
        last=columns[-1]["name"],
        review=REVIEW.format(gates=", ".join(f'"{name}"' for name in gates)) if gates else "",
        ready=ready_uri(board_id),
        board=board_uri(board_id),
    )


def _text(board_id: int) -> str:
    try:
        return work_on_board_text(current_actor(), board_id)
    except NotFound as error:
        raise ValueError(error.message) from error


def add_prompts(server: MCPServer) -> None:
    @server.prompt(
        name="work_on_board",
        title="Work on a board",
        description="How to work on one board as an agent: wait for or claim the next task, "
        "keep its lease, comment, finish; with the board's columns and limits.",
    )
    async def work_on_board(board_id: int) -> str:
        if not is_id(board_id):
            raise ValueError("board_id must be a positive whole number.")
        return await on_mcp_threads(_text)(board_id)
