"""The MCP tools. Each is a plain function over the same services and selectors as the
REST API, run in a database thread (server.py turns it into an async MCP tool and
results.py into its answer). `actor` is the identity of the caller and is not a tool
argument; the others are, with their types and descriptions. A tool that waits
(`wait_for_work`) is a coroutine instead, and its `actor` a function that asks for the
caller afresh in a database thread, for each look."""

from collections.abc import Callable
from typing import Annotated, Literal, NotRequired

from django.db.models import F, Window
from django.db.models.functions import RowNumber
from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

from boards.selectors import board_columns, board_get, board_list
from comments.reviews import ticket_review_with_comment
from comments.selectors import ticket_comments
from comments.services import TEXT_MAX as COMMENT_MAX
from comments.services import comment_create
from core.errors import InvalidInput
from core.ids import ID_MAX
from history.selectors import ticket_history
from mcp_server import work
from mcp_server.shapes import (
    BoardColumns,
    BoardEvents,
    BoardPage,
    BoardState,
    ClaimAnswer,
    ClaimNextAnswer,
    CommentAdded,
    DependenciesAnswer,
    Heartbeat,
    ProgressAnswer,
    ReviewAnswer,
    SubtasksAnswer,
    TaskAnswer,
    TaskInFull,
    TaskPage,
    WorkAnswer,
    board_brief,
    comment_brief,
    history_brief,
    latest,
    page_of,
    task_brief,
    task_briefs,
    task_detail,
)
from tickets import rules, services
from tickets.selectors import ticket_dependencies, ticket_get, ticket_list

BoardId = Annotated[int, Field(ge=1, le=ID_MAX, description="The board's id (list_boards).")]
TaskId = Annotated[int, Field(ge=1, le=ID_MAX, description="The task's id.")]
OtherTaskId = Annotated[
    int, Field(ge=1, le=ID_MAX, description="The id of the task that must be finished first.")
]
Page = Annotated[int, Field(ge=1, le=1_000_000, description="Page number, from 1.")]
PageSize = Annotated[int, Field(ge=1, le=100, description="Items per page (at most 100).")]
Priority = Literal["critical", "high", "medium", "low"]
OnlyBoard = Annotated[int | None, Field(ge=1, le=ID_MAX, description="Only this board.")]
Labels = Annotated[
    list[Annotated[str, Field(max_length=rules.LABEL_MAX)]],
    Field(max_length=rules.LABELS_MAX, description="Label names."),
]
Version = Annotated[
    int | None,
    Field(
        ge=1,
        description="The task's version as you last read it: the change is refused with "
        "version_conflict if someone changed the task since. Omit to skip the check.",
    ),
]
HeldWith = Annotated[
    str | None,
    Field(
        max_length=100,
        description="The claim_token your claim answered. If the claim it names is no longer "
        "current (your lease ran out and the task was claimed again, even by you from another "
        "worker), the change is refused with lease_lost and nothing is written.",
    ),
]
LeaseSeconds = Annotated[
    int | None,
    Field(
        ge=10,
        description="How long the claim lasts, in seconds; the server default (15 minutes) "
        "if omitted. Renew it with heartbeat before it runs out.",
    ),
]


# ---------------------------------------------------------------- reading


def list_boards(actor, page: Page = 1, page_size: PageSize = 50) -> BoardPage:
    """List the boards you are a member of: id, name, short description, column names and
    ticket count. With none at all, `hint` says what to do."""
    answer = page_of(
        board_list(actor=actor),
        page=page,
        page_size=page_size,
        shape=lambda boards: [board_brief(board) for board in boards],
    )
    if answer["total"] == 0:
        # An agent made without --board: say so, rather than leave it at an empty list.
        answer["hint"] = (
            f"You are a member of no board; ask a board admin to add {actor.username} "
            "(the board's Members page, or manage.py create_agent/create_token --board)."
        )
    return answer


def get_board_state(
    actor,
    board_id: BoardId,
    per_column: Annotated[
        int, Field(ge=1, le=100, description="At most this many tasks per column, top first.")
    ] = 20,
) -> BoardState:
    """The board at a glance: its columns in order (WIP limit, count) with their top tasks,
    each as id, title, priority, assignee, claimed_by, is_blocked, labels and version.
    `more` says how many tasks of a column are not shown (use list_tasks to page)."""
    board = board_get(actor=actor, board_id=board_id)
    # One query for every column's top tasks: number the tasks within their column.
    top = (
        ticket_list(actor=actor, board_id=board_id)
        .annotate(
            rank=Window(
                RowNumber(), partition_by=[F("column_id")], order_by=[F("position"), F("id")]
            )
        )
        .filter(rank__lte=per_column)
    )
    by_column: dict[str, list[dict]] = {}
    for brief in task_briefs(top):
        by_column.setdefault(brief["current_column"], []).append(brief)
    columns = [
        {
            "name": column["name"],
            "wip_limit": column["wip_limit"],
            "requires_review": column["requires_review"],
            "ticket_count": column["ticket_count"],
            "tickets": by_column.get(column["name"], []),
            "more": column["ticket_count"] - len(by_column.get(column["name"], [])),
        }
        for column in board_columns(board_id=board_id)
    ]
    return {"board": {"id": board.pk, "name": board.name}, "columns": columns}


def list_columns(actor, board_id: BoardId) -> BoardColumns:
    """The board's columns in order, with WIP limits, ticket counts and whether each is full.
    Tasks reaching the last column are finished. A column that requires review lets a task
    go on only by an approval (review_task) by someone other than its claimant."""
    board_get(actor=actor, board_id=board_id)
    return {"board_id": board_id, "columns": board_columns(board_id=board_id)}


def list_tasks(
    actor,
    board_id: OnlyBoard = None,
    column: Annotated[str | None, Field(max_length=100, description="Only this column.")] = None,
    priority: Annotated[Priority | None, Field(description="Only this priority.")] = None,
    assignee: Annotated[
        str | None, Field(max_length=150, description="Only tasks assigned to this username.")
    ] = None,
    label: Annotated[
        str | None, Field(max_length=rules.LABEL_MAX, description="Only tasks with this label.")
    ] = None,
    q: Annotated[
        str | None, Field(max_length=200, description="Text in title, description or criteria.")
    ] = None,
    page: Page = 1,
    page_size: PageSize = 20,
) -> TaskPage:
    """List tasks in board order (column, then position), filtered, one page at a time."""
    tickets = ticket_list(
        actor=actor,
        board_id=board_id,
        column=column,
        priority=priority,
        assignee=assignee,
        label=label,
        q=q,
    )
    return page_of(tickets, page=page, page_size=page_size, shape=task_briefs)


def search_tasks(
    actor,
    query: Annotated[
        str,
        Field(
            min_length=1,
            max_length=200,
            description="Text to find in title, description or acceptance criteria "
            "(case-insensitive).",
        ),
    ],
    board_id: OnlyBoard = None,
    page: Page = 1,
    page_size: PageSize = 20,
) -> TaskPage:
    """Find tasks by text, one page at a time."""
    tickets = ticket_list(actor=actor, board_id=board_id, q=query)
    return page_of(tickets, page=page, page_size=page_size, shape=task_briefs)


def get_task(
    actor,
    task_id: TaskId,
    recent: Annotated[
        int, Field(ge=1, le=100, description="How many of the latest comments and history rows.")
    ] = 10,
) -> TaskInFull:
    """One task in full (description, acceptance criteria, version, claim) with its latest
    comments, its dependencies (what blocks it, what it blocks) and its latest history."""
    ticket = ticket_get(actor=actor, ticket_id=task_id)
    comments = ticket_comments(actor=actor, ticket_id=task_id)
    history = ticket_history(actor=actor, ticket_id=task_id)
    return {
        "task": task_detail(ticket),
        "comments": [comment_brief(comment) for comment in latest(comments, recent)],
        "comment_count": comments.count(),
        "dependencies": ticket_dependencies(actor=actor, ticket_id=task_id),
        "history": [history_brief(row) for row in latest(history, recent)],
        "history_count": history.count(),
    }


# ---------------------------------------------------------------- writing


def create_task(
    actor,
    board_id: BoardId,
    title: Annotated[str, Field(min_length=1, max_length=rules.TITLE_MAX, description="Title.")],
    description: Annotated[str, Field(max_length=rules.TEXT_MAX, description="Markdown.")] = "",
    acceptance_criteria: Annotated[
        str, Field(max_length=rules.TEXT_MAX, description="When is it done? Markdown.")
    ] = "",
    priority: Priority = "medium",
    column: Annotated[
        str | None, Field(max_length=100, description="Column name; the board's first if omitted.")
    ] = None,
    assignee: Annotated[str | None, Field(max_length=150, description="A username.")] = None,
    labels: Labels | None = None,
    parent_id: Annotated[
        int | None,
        Field(ge=1, le=ID_MAX, description="Make it a subtask of this task (same board)."),
    ] = None,
) -> TaskAnswer:
    """Create a task at the bottom of a column (the board's first by default). To break a
    task into several subtasks at once, use create_subtasks."""
    ticket = services.ticket_create(
        actor=actor,
        board_id=board_id,
        title=title,
        description=description,
        acceptance_criteria=acceptance_criteria,
        priority=priority,
        column=column,
        assignee=assignee,
        labels=labels,
        parent_id=parent_id,
    )
    return {"task": task_brief(ticket_get(actor=actor, ticket_id=ticket.pk))}


def edit_task(
    actor,
    task_id: TaskId,
    version: Version = None,
    title: Annotated[str | None, Field(min_length=1, max_length=rules.TITLE_MAX)] = None,
    description: Annotated[str | None, Field(max_length=rules.TEXT_MAX)] = None,
    acceptance_criteria: Annotated[str | None, Field(max_length=rules.TEXT_MAX)] = None,
    priority: Priority | None = None,
    assignee: Annotated[
        str | None, Field(max_length=150, description='A username; "" to unassign.')
    ] = None,
    labels: Annotated[
        Labels | None, Field(description="The complete new set of labels; [] to remove all.")
    ] = None,
    parent_id: Annotated[
        int | None,
        Field(
            ge=0,
            le=ID_MAX,
            description="Make it a subtask of this task (same board, at most 3 levels); "
            "0 to detach it from its parent.",
        ),
    ] = None,
    claim_token: HeldWith = None,
) -> TaskAnswer:
    """Change a task's fields; only the ones you give change. Pass the version you read.
    A task claimed by someone else can only be changed by them (or an admin)."""
    changes = {
        name: value
        for name, value in {
            "title": title,
            "description": description,
            "acceptance_criteria": acceptance_criteria,
            "priority": priority,
            "assignee": assignee,
            "labels": labels,
        }.items()
        if value is not None
    }
    if parent_id is not None:
        changes["parent_id"] = parent_id or None
    if not changes:
        raise InvalidInput("Give at least one field to change.")
    services.ticket_update(
        actor=actor,
        ticket_id=task_id,
        expected_version=version,
        claim_token=claim_token,
        **changes,
    )
    return {"task": task_brief(ticket_get(actor=actor, ticket_id=task_id))}


def update_task_status(
    actor,
    task_id: TaskId,
    column: Annotated[
        str, Field(min_length=1, max_length=100, description="The column to move to, e.g. Done.")
    ],
    position: Annotated[
        Literal["top", "bottom"] | None, Field(description="Where in the column (default bottom).")
    ] = None,
    before_task_id: Annotated[
        int | None, Field(ge=1, le=ID_MAX, description="Place it just above this task.")
    ] = None,
    after_task_id: Annotated[
        int | None, Field(ge=1, le=ID_MAX, description="Place it just below this task.")
    ] = None,
    version: Version = None,
    override_wip: Annotated[
        bool, Field(description="Board admins only: move into a column at its WIP limit.")
    ] = False,
    override_subtasks: Annotated[
        bool,
        Field(description="Board admins only: finish a task whose subtasks are not finished."),
    ] = False,
    claim_token: HeldWith = None,
) -> TaskAnswer:
    """Move a task to a column (its status), e.g. to the last column when it is done, which
    ends your claim and unblocks the tasks waiting for it. Refused if the column is at its
    WIP limit or someone else holds the task, and a task reaches the last column only
    after its subtasks (conflict/open_subtasks)."""
    places = [
        place
        for place in (
            position,
            before_task_id and {"before": before_task_id},
            after_task_id and {"after": after_task_id},
        )
        if place
    ]
    if len(places) > 1:
        raise rules.invalid(
            "position", "Give at most one of position, before_task_id, after_task_id."
        )
    services.ticket_move(
        actor=actor,
        ticket_id=task_id,
        column=column,
        position=places[0] if places else None,
        expected_version=version,
        override_wip=override_wip,
        override_subtasks=override_subtasks,
        claim_token=claim_token,
    )
    return {"task": task_brief(ticket_get(actor=actor, ticket_id=task_id))}


@with_config(ConfigDict(extra="forbid"))
class NewSubtask(TypedDict):
    """One subtask to make: only its title is required."""

    title: Annotated[str, Field(min_length=1, max_length=rules.TITLE_MAX)]
    description: NotRequired[Annotated[str, Field(max_length=rules.TEXT_MAX)]]
    acceptance_criteria: NotRequired[
        Annotated[str, Field(max_length=rules.TEXT_MAX, description="When is it done?")]
    ]
    priority: NotRequired[Priority]


def create_subtasks(
    actor,
    task_id: Annotated[
        int, Field(ge=1, le=ID_MAX, description="The task to break down (their parent).")
    ],
    subtasks: Annotated[
        list[NewSubtask],
        Field(
            min_length=1,
            max_length=rules.SUBTASKS_MAX,
            description=f"1 to {rules.SUBTASKS_MAX} subtasks, in the order to do them.",
        ),
    ],
) -> SubtasksAnswer:
    """Break a task into subtasks in one step: all of them are made (in the board's first
    column) or, if one is invalid, none. claim_next_task then hands out the subtasks,
    not the parent, and the parent reaches the last column only after all of them."""
    made = services.ticket_create_subtasks(
        actor=actor, ticket_id=task_id, subtasks=[dict(spec) for spec in subtasks]
    )
    return {
        "task": task_brief(ticket_get(actor=actor, ticket_id=task_id)),
        "subtasks": task_briefs(made),
    }


def claim_task(actor, task_id: TaskId, lease_seconds: LeaseSeconds = None) -> ClaimAnswer:
    """Claim a task so that nobody else works on it, for a lease you renew with heartbeat.
    Refused (conflict/claimed) while another agent holds it, or if it is blocked."""
    ticket = services.ticket_claim(actor=actor, ticket_id=task_id, lease_seconds=lease_seconds)
    return {"task": task_detail(ticket), "claim_token": ticket.claim_token}


def claim_next_task(
    actor,
    board_id: BoardId,
    column: Annotated[
        str | None,
        Field(max_length=100, description="Take from this column; the first if omitted."),
    ] = None,
    labels: Annotated[Labels | None, Field(description="Only tasks carrying all of these.")] = None,
    assignee: Annotated[
        str | None, Field(max_length=150, description="Only tasks assigned to this username.")
    ] = None,
    include_assigned: Annotated[
        bool,
        Field(
            description="Also tasks assigned to someone else; by default only tasks with no "
            "assignee or assigned to you."
        ),
    ] = False,
    lease_seconds: LeaseSeconds = None,
) -> ClaimNextAnswer:
    """Claim the best ready task of a board: unclaimed, not blocked, not assigned to someone
    else, highest priority, then top of the column, then oldest. A task with no assignee
    becomes yours while you hold it. Returns it in full, or claimed=false if none is ready."""
    try:
        ticket = services.ticket_claim_next(
            actor=actor,
            board_id=board_id,
            column=column,
            labels=labels,
            assignee=assignee,
            include_assigned=include_assigned,
            lease_seconds=lease_seconds,
        )
    except services.NothingToClaim as nothing:
        return {"claimed": False, "task": None, "message": nothing.message}
    detail = task_detail(ticket)
    message = f"You hold task {ticket.pk} until {detail['lease_expires_at']}."
    return {
        "claimed": True,
        "task": detail,
        "message": message,
        "claim_token": ticket.claim_token,
    }


def heartbeat(
    actor, task_id: TaskId, lease_seconds: LeaseSeconds = None, claim_token: HeldWith = None
) -> Heartbeat:
    """Extend your claim on a task you hold. An expired claim cannot be renewed: claim again."""
    ticket = services.ticket_heartbeat(
        actor=actor, ticket_id=task_id, lease_seconds=lease_seconds, claim_token=claim_token
    )
    detail = task_detail(ticket)
    return {
        "task_id": ticket.pk,
        "claimed_by": detail["claimed_by"],
        "lease_expires_at": detail["lease_expires_at"],
        "claim_token": ticket.claim_token,
    }


def report_progress(
    actor,
    task_id: TaskId,
    status: Annotated[
        str, Field(min_length=1, max_length=200, description="What you are doing now.")
    ],
    percent: Annotated[int | None, Field(ge=0, le=100, description="How far along.")] = None,
    claim_token: HeldWith = None,
) -> ProgressAnswer:
    """Say what you are doing on a task you hold ("running the test suite", 60): people
    watching the board see it on the card at once, until your claim ends. At most one
    report every few seconds per task (rate_limited otherwise)."""
    ticket = services.ticket_report_progress(
        actor=actor, ticket_id=task_id, status=status, percent=percent, claim_token=claim_token
    )
    return {"task_id": ticket.pk, "progress": task_detail(ticket)["progress"]}


def review_task(
    actor,
    task_id: TaskId,
    decision: Annotated[
        Literal["approve", "request_changes"],
        Field(
            description="approve: on to the next column. request_changes: back to the column "
            "before, with your comment; its claim ends and it can be claimed again."
        ),
    ],
    comment: Annotated[
        str | None,
        Field(max_length=COMMENT_MAX, description="Markdown; required for request_changes."),
    ] = None,
    override: Annotated[
        bool,
        Field(description="Board admins only: review your own work. Audited."),
    ] = False,
    version: Version = None,
) -> ReviewAnswer:
    """Review a task waiting in a column that requires review (list_columns says which):
    only an approval moves it on. Refused (forbidden/self_review) for the task's claimant
    and whoever moved it into review, and for agents (forbidden/humans_review) on a board
    where only people review."""
    before = ticket_get(actor=actor, ticket_id=task_id).column.name
    ticket_review_with_comment(
        actor=actor,
        ticket_id=task_id,
        decision=decision,
        comment=comment,
        override=override,
        expected_version=version,
    )
    return {
        "task": task_brief(ticket_get(actor=actor, ticket_id=task_id)),
        "decision": decision,
        "from_column": before,
    }


def release_task(actor, task_id: TaskId, claim_token: HeldWith = None) -> TaskAnswer:
    """Give up your claim on a task, leaving it where it is for someone else."""
    services.ticket_release(actor=actor, ticket_id=task_id, claim_token=claim_token)
    return {"task": task_brief(ticket_get(actor=actor, ticket_id=task_id))}


def add_comment(
    actor,
    task_id: TaskId,
    text: Annotated[str, Field(min_length=1, max_length=COMMENT_MAX, description="Markdown.")],
    claim_token: HeldWith = None,
) -> CommentAdded:
    """Comment on a task: progress notes, findings, questions for humans."""
    comment = comment_create(actor=actor, ticket_id=task_id, text=text, claim_token=claim_token)
    return {
        "comment": {
            "id": comment.pk,
            "task_id": task_id,
            "author": actor.username,
            "created_at": comment.created_at.isoformat(),
        }
    }


def add_dependency(actor, task_id: TaskId, blocked_by_task_id: OtherTaskId) -> DependenciesAnswer:
    """Record that a task waits for another task of the same board (cycles are refused).
    A blocked task is never handed out by claim_next_task."""
    services.ticket_add_dependency(actor=actor, ticket_id=task_id, blocked_by_id=blocked_by_task_id)
    return {"dependencies": ticket_dependencies(actor=actor, ticket_id=task_id)}


def remove_dependency(
    actor, task_id: TaskId, blocked_by_task_id: OtherTaskId
) -> DependenciesAnswer:
    """Remove a dependency recorded with add_dependency."""
    services.ticket_remove_dependency(
        actor=actor, ticket_id=task_id, blocked_by_id=blocked_by_task_id
    )
    return {"dependencies": ticket_dependencies(actor=actor, ticket_id=task_id)}


# ---------------------------------------------------------------- being told of work


def get_board_events(
    actor,
    board_id: BoardId,
    since: Annotated[
        int,
        Field(
            ge=0,
            le=ID_MAX,
            description="The last event number you have seen (`last_seq` of a resource, or "
            "`next_since` of the previous page); 0 for the whole log.",
        ),
    ] = 0,
    limit: Annotated[int, Field(ge=1, le=500, description="At most this many events.")] = 100,
) -> BoardEvents:
    """The board's events after `since`, oldest first: every change (ticket created,
    moved, claimed, commented…) with its number, who made it and when. The same log as
    the REST catch-up; read on with `next_since` while `has_more`."""
    return work.board_events(actor, board_id, since, limit)


async def wait_for_work(
    actor: Callable[[], object],
    board_id: BoardId,
    column: Annotated[
        str | None,
        Field(max_length=100, description="Wait in this column (the first if left out)."),
    ] = None,
    timeout_seconds: Annotated[
        int, Field(ge=1, le=work.WAIT_MAX_SECONDS, description="Give up after this long.")
    ] = 60,
) -> WorkAnswer:
    """Wait until a task is ready for you on the board (created, unblocked, released, or
    its lease ran out) and return it; at once if one is ready now; {"task": null} at the
    timeout. It does not claim: call claim_next_task next, and keep its claim_token."""
    return await work.wait_until_ready(actor, board_id, column, timeout_seconds)


READ_TOOLS = [
    list_boards,
    get_board_state,
    list_columns,
    list_tasks,
    search_tasks,
    get_task,
    get_board_events,
    wait_for_work,
]
WRITE_TOOLS = [
    create_task,
    create_subtasks,
    edit_task,
    update_task_status,
    claim_task,
    claim_next_task,
    heartbeat,
    report_progress,
    review_task,
    release_task,
    add_comment,
    add_dependency,
    remove_dependency,
]
