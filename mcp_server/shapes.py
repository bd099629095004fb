"""Compact, stable shapes of what the tools return, so an agent's context is not flooded.
Tasks, boards and comments are cut from their apps' one representation, so every field
means (and is written) what it is in the REST API and in board events."""

import math
from collections.abc import Callable, Iterable

from django.db.models import QuerySet

from boards.models import Board
from boards.representation import board_representation
from comments.models import Comment
from comments.representation import comment_representation
from history.models import TicketHistory
from tickets.models import Ticket
from tickets.representation import ticket_representation

BRIEF_FIELDS = (
    "id",
    "board_id",
    "title",
    "current_column",
    "priority",
    "assignee",
    "claimed_by",
    "is_blocked",
    "labels",
    "version",
)
HISTORY_VALUE_MAX = 200
BOARD_DESCRIPTION_MAX = 200


def _clip(text: str | None, maximum: int) -> str | None:
    if text is None or len(text) <= maximum:
        return text
    return text[: maximum - 1] + "…"


def task_briefs(tickets: Iterable[Ticket]) -> list[dict]:
    """One line per task: what a list or a board needs, without the long texts."""
    rows = (ticket_representation(ticket) for ticket in tickets)
    return [{name: row[name] for name in BRIEF_FIELDS} for row in rows]


def task_brief(ticket: Ticket) -> dict:
    return task_briefs([ticket])[0]


def task_detail(ticket: Ticket) -> dict:
    """Everything about a task, exactly as the REST API shows it."""
    return ticket_representation(ticket)


def board_brief(board: Board) -> dict:
    shown = board_representation(board)
    return {
        "id": shown["id"],
        "name": shown["name"],
        "description": _clip(shown["description"], BOARD_DESCRIPTION_MAX),
        "columns": shown["columns"],
        "ticket_count": shown.get("ticket_count"),
    }


def comment_brief(comment: Comment) -> dict:
    shown = comment_representation(comment)
    return {name: shown[name] for name in ("id", "author", "text", "created_at")}


def history_brief(row: TicketHistory) -> dict:
    return {
        "field": row.field_name,
        "old": _clip(row.old_value, HISTORY_VALUE_MAX),
        "new": _clip(row.new_value, HISTORY_VALUE_MAX),
        "by": row.changed_by.username if row.changed_by_id else None,
        "at": row.changed_at.isoformat(),
    }


def page_of(
    queryset: QuerySet, *, page: int, page_size: int, shape: Callable[[list], list[dict]]
) -> dict:
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
