"""Compact, stable shapes of what the tools return, so an agent's context is not flooded.
Tasks, boards and comments are cut from their apps' one representation, so every field
means (and is written) what it is in the REST API and in board events.

Each shape has its type here, next to the function that builds it, and each tool's answer
is one of the types at the end: the MCP server publishes a tool's answer type as the
tool's outputSchema and checks every successful answer against it (server.py). A type
lists every key its shape has (a key present only sometimes is NotRequired); its schema
leaves objects open to other keys, so a key added to a representation cannot break a
tool, and tests/mcp/test_output_schemas.py, which closes them, fails until it is typed.

The types are `typing_extensions.TypedDict`s: pydantic, which turns them into JSON
schemas, refuses a nested `typing.TypedDict` below Python 3.12."""

import math
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal, NotRequired

from django.db.models import QuerySet
from pydantic import Field
from typing_extensions import TypedDict

from boards.models import Board
from boards.representation import board_representation
from comments.models import Comment
from comments.representation import comment_representation
from history.models import TicketHistory
from tickets.models import Priority, Ticket
from tickets.representation import ticket_representation

HISTORY_VALUE_MAX = 200
BOARD_DESCRIPTION_MAX = 200

# ---------------------------------------------------------------- the pieces' types

PriorityName = Literal[tuple(Priority.labels)]  # critical, high, medium, low
Moment = Annotated[str, Field(json_schema_extra={"format": "date-time"})]  # ISO 8601
ClaimedBy = Annotated[
    str | None, Field(description="Who holds an unexpired claim on the task, if anyone.")
]
LeaseExpiresAt = Annotated[
    Moment | None, Field(description="When the claim runs out unless renewed with heartbeat.")
]


class SubtaskCounts(TypedDict):
    total: int
    done: Annotated[int, Field(description="How many are in the board's last column.")]


class TaskBrief(TypedDict):
    """A task in one line: what a list or a board needs, without the long texts."""

    id: int
    board_id: int
    title: str
    current_column: Annotated[str, Field(description="The name of its column: its status.")]
    priority: PriorityName
    assignee: Annotated[str | None, Field(description="The username it is assigned to.")]
    claimed_by: ClaimedBy
    is_blocked: Annotated[
        bool, Field(description="Blocked by a task that has not reached the last column.")
    ]
    labels: Annotated[list[str], Field(description="Label names, sorted.")]
    version: Annotated[
        int, Field(description="Changes with every edit: pass it back to edit_task and moves.")
    ]
    parent_id: Annotated[int | None, Field(description="The task it is a subtask of, if any.")]
    subtasks: Annotated[
        SubtaskCounts, Field(description="Its subtasks (create_subtasks): how many, how many done.")
    ]


class Progress(TypedDict):
    """What the task's claimant says it is doing now; nulls when nothing is reported."""

    status: str | None
    percent: Annotated[int | None, Field(description="0 to 100, when given.")]
    at: Annotated[str | None, Field(json_schema_extra={"format": "date-time"})]


class TaskLink(TypedDict):
    """A branch, commit or pull/merge request of a forge that mentions the task."""

    kind: Annotated[str, Field(description="branch, commit, pull_request or merge_request.")]
    forge: Annotated[str, Field(description="github, gitlab or gitea.")]
    url: str
    title: str
    state: Annotated[str, Field(description="open, merged or closed; created or pushed.")]
    external_id: Annotated[str, Field(description="The forge's number, sha or branch name.")]
    updated_at: Moment


class TaskDetail(TaskBrief):
    """A task in full, exactly as the REST API shows it."""

    description: Annotated[str, Field(description="Markdown.")]
    acceptance_criteria: Annotated[str, Field(description="When it is done. Markdown.")]
    column_id: int
    position: Annotated[str, Field(description="Its order key within the column.")]
    created_by: Annotated[str | None, Field(description="The username of its creator.")]
    column_entered_at: Annotated[Moment, Field(description="When it entered its column.")]
    created_at: Moment
    updated_at: Moment
    lease_expires_at: LeaseExpiresAt
    blocked_by: Annotated[list[int], Field(description="Ids of the tasks blocking it.")]
    progress: Progress
    links: Annotated[
        list[TaskLink], Field(description="Branches, commits and pull requests mentioning it.")
    ]


BRIEF_FIELDS = tuple(TaskBrief.__annotations__)


class BoardBrief(TypedDict):
    """A board: its column names in order and how many tasks it holds."""

    id: int
    name: str
    description: Annotated[
        str, Field(description=f"Clipped to {BOARD_DESCRIPTION_MAX} characters.")
    ]
    columns: Annotated[list[str], Field(description="Column names, in board order.")]
    ticket_count: Annotated[int | None, Field(description="How many tasks the board holds.")]


class CommentBrief(TypedDict):
    """A comment on a task."""

    id: int
    author: Annotated[str | None, Field(description="Its author's username (null once gone).")]
    text: Annotated[str, Field(description="Markdown.")]
    created_at: Moment


class HistoryBrief(TypedDict):
    """One change of one field of a task."""

    field: Annotated[str, Field(description="The field that changed.")]
    old: Annotated[
        str | None, Field(description=f"Its value before, clipped to {HISTORY_VALUE_MAX}.")
    ]
    new: Annotated[
        str | None, Field(description=f"Its value after, clipped to {HISTORY_VALUE_MAX}.")
    ]
    by: Annotated[str | None, Field(description="Who changed it (null once gone).")]
    at: Moment


class Paging(TypedDict):
    """The REST API's page envelope, less its items."""

    total: Annotated[int, Field(description="How many items there are on all pages.")]
    page: Annotated[int, Field(description="This page's number, from 1.")]
    page_size: int
    total_pages: int
    has_next: bool
    has_previous: bool


class TaskPage(Paging):
    """One page of tasks, in board order (column, then position)."""

    items: list[TaskBrief]


class BoardPage(Paging):
    """One page of boards, by name."""

    items: list[BoardBrief]
    hint: NotRequired[
        Annotated[str, Field(description="Why there is no board at all, and what to do.")]
    ]


# tickets.selectors.ticket_dependencies builds these two.
class TaskRef(TypedDict):
    """Another task a task depends on or blocks."""

    id: int
    title: str
    current_column: str
    is_finished: Annotated[bool, Field(description="It has reached its board's last column.")]


class Dependencies(TypedDict):
    """What blocks a task and what it blocks."""

    ticket_id: Annotated[int, Field(description="The task's id.")]
    is_blocked: Annotated[bool, Field(description="A task blocking it is not finished.")]
    blocked_by: Annotated[list[TaskRef], Field(description="The tasks it waits for.")]
    blocks: Annotated[list[TaskRef], Field(description="The tasks waiting for it.")]


class Column(TypedDict):
    """A column of a board (boards.selectors.board_columns builds it)."""

    id: int
    name: str
    position: Annotated[int, Field(description="Its place on the board, from the left.")]
    wip_limit: Annotated[int | None, Field(description="At most this many tasks (null: any).")]
    requires_review: Annotated[
        bool,
        Field(description="Tasks leave it forward only by an approval (review_task)."),
    ]
    ticket_count: int
    is_full: Annotated[bool, Field(description="It is at its WIP limit.")]


# ---------------------------------------------------------------- the pieces


def _clip(text: str | None, maximum: int) -> str | None:
    if text is None or len(text) <= maximum:
        return text
    return text[: maximum - 1] + "…"


def task_briefs(tickets: Iterable[Ticket]) -> list[TaskBrief]:
    """One line per task: what a list or a board needs, without the long texts."""
    rows = (ticket_representation(ticket) for ticket in tickets)
    return [{name: row[name] for name in BRIEF_FIELDS} for row in rows]


def task_brief(ticket: Ticket) -> TaskBrief:
    return task_briefs([ticket])[0]


def task_detail(ticket: Ticket) -> TaskDetail:
    """Everything about a task, exactly as the REST API shows it."""
    return ticket_representation(ticket)


def board_brief(board: Board) -> BoardBrief:
    shown = board_representation(board)
    return {
        "id": shown["id"],
        "name": shown["name"],
        "description": _clip(shown["description"], BOARD_DESCRIPTION_MAX),
        "columns": shown["columns"],
        "ticket_count": shown.get("ticket_count"),
    }


def comment_brief(comment: Comment) -> CommentBrief:
    shown = comment_representation(comment)
    return {name: shown[name] for name in ("id", "author", "text", "created_at")}


def history_brief(row: TicketHistory) -> HistoryBrief:
    return {
        "field": row.field_name,
        "old": _clip(row.old_value, HISTORY_VALUE_MAX),
        "new": _clip(row.new_value, HISTORY_VALUE_MAX),
        "by": row.changed_by.username if row.changed_by_id else None,
        "at": row.changed_at.isoformat(),
    }


def page_of(
    queryset: QuerySet, *, page: int, page_size: int, shape: Callable[[list], list]
) -> TaskPage | BoardPage:
    """One page in the REST API's envelope: items, total, page, page_size, total_pages…"""
    total = queryset.count()
    start = (page - 1) * page_size
    # Past the end: no query, and no OFFSET too large for the database.
    rows = list(queryset[start : start + page_size]) if start < total else []
    total_pages = max(1, math.ceil(total / page_size))
    return {
        "items": shape(rows),
        "total": total,
        "page": page,
        "page_size": page_size,
        "total_pages": total_pages,
        "has_next": page < total_pages,
        "has_previous": page > 1,
    }


def latest(queryset: QuerySet, limit: int) -> list:
    """The last `limit` rows of an oldest-first queryset, still oldest first."""
    return list(queryset.reverse()[:limit])[::-1]


# ---------------------------------------------------------------- the tools' answers

ClaimToken = Annotated[
    str | None,
    Field(
        description="The claim's fencing token, shown to its holder only: pass it to "
        "heartbeat, edit_task, update_task_status, add_comment and release_task, which then "
        "refuse with lease_lost once this claim is no longer current.",
    ),
]


class BoardRef(TypedDict):
    id: int
    name: str


class ColumnState(TypedDict):
    """A column with its top tasks."""

    name: str
    wip_limit: Annotated[int | None, Field(description="At most this many tasks (null: any).")]
    requires_review: Annotated[
        bool,
        Field(description="Tasks leave it forward only by an approval (review_task)."),
    ]
    ticket_count: int
    tickets: Annotated[list[TaskBrief], Field(description="Its top tasks, in order.")]
    more: Annotated[int, Field(description="How many of its tasks are not shown.")]


class BoardState(TypedDict):
    """A board at a glance (get_board_state)."""

    board: BoardRef
    columns: Annotated[list[ColumnState], Field(description="In board order.")]


class BoardColumns(TypedDict):
    """A board's columns in order (list_columns)."""

    board_id: int
    columns: list[Column]


class TaskInFull(TypedDict):
    """A task in full with its latest comments and history (get_task)."""

    task: TaskDetail
    comments: Annotated[list[CommentBrief], Field(description="The latest, oldest first.")]
    comment_count: Annotated[int, Field(description="How many comments it has in all.")]
    dependencies: Dependencies
    history: Annotated[list[HistoryBrief], Field(description="The latest, oldest first.")]
    history_count: Annotated[int, Field(description="How many history rows it has in all.")]


class TaskAnswer(TypedDict):
    """The task as it is after the change."""

    task: TaskBrief


class SubtasksAnswer(TypedDict):
    """The task with its new subtasks (create_subtasks)."""

    task: Annotated[TaskBrief, Field(description="The parent task, with its new counts.")]
    subtasks: Annotated[list[TaskBrief], Field(description="The new subtasks, in order.")]


class ClaimAnswer(TypedDict):
    """The task you now hold, in full (claim_task)."""

    task: TaskDetail
    claim_token: ClaimToken


class ClaimNextAnswer(TypedDict):
    """The task you now hold, in full, or claimed=false and task=null (claim_next_task)."""

    claimed: Annotated[bool, Field(description="Whether a task was ready and is now yours.")]
    task: TaskDetail | None
    message: str
    claim_token: Annotated[NotRequired[ClaimToken], Field(description="When claimed.")]


class Heartbeat(TypedDict):
    """Your renewed claim (heartbeat)."""

    task_id: int
    claimed_by: ClaimedBy
    lease_expires_at: LeaseExpiresAt
    claim_token: ClaimToken


class NewComment(TypedDict):
    id: int
    task_id: int
    author: Annotated[str, Field(description="Your username.")]
    created_at: Moment


class CommentAdded(TypedDict):
    """The comment just added (add_comment)."""

    comment: NewComment


class ReviewAnswer(TypedDict):
    """The task where your review put it (review_task)."""

    task: TaskBrief
    decision: Literal["approve", "request_changes"]
    from_column: Annotated[str, Field(description="The review column it left.")]


class DependenciesAnswer(TypedDict):
    """The task's dependencies after the change."""

    dependencies: Dependencies


class ProgressAnswer(TypedDict):
    """Your report, as the task's card now shows it (report_progress)."""

    task_id: int
    progress: Progress


class BoardEvent(TypedDict):
    """One change on the board, as the event log and the live streams carry it."""

    event: Annotated[str, Field(description="ticket_created, ticket_moved, comment_added…")]
    data: Annotated[dict[str, Any], Field(description="What changed: usually the ticket.")]
    board_id: int
    seq: Annotated[int, Field(description="Its number on the board: 1, 2, 3… without gaps.")]
    timestamp: Moment
    actor: Annotated[str | None, Field(description="Who made the change.")]


class BoardEvents(TypedDict):
    """The board's events after `since`, oldest first (get_board_events)."""

    items: list[BoardEvent]
    next_since: Annotated[int, Field(description="Pass it as `since` to read on.")]
    has_more: bool


class WorkAnswer(TypedDict):
    """What wait_for_work found: a task ready for you, or none by the timeout."""

    task: Annotated[
        TaskBrief | None,
        Field(description="The best ready task (not claimed for you: claim_next_task does)."),
    ]
    last_seq: Annotated[int | None, Field(description="The board's latest event number.")]
