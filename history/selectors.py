from collections import defaultdict
from datetime import timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from boards.access import READ, can, readable_boards, require_board
from core.errors import NotFound
from history.models import TicketHistory
from tickets.models import Ticket


def history_queryset() -> QuerySet[TicketHistory]:
    return TicketHistory.objects.select_related("changed_by")


def ticket_history(*, actor, ticket_id: int) -> QuerySet[TicketHistory]:
    """A ticket's history, oldest first; still readable after the ticket is deleted, by
    those who may read its board."""
    rows = history_queryset().filter(ticket_id=ticket_id).order_by("changed_at", "id")
    board_id = rows.values_list("board_id", flat=True).first()
    if board_id is None:
        board_id = Ticket.objects.filter(pk=ticket_id).values_list("board_id", flat=True).first()
    if board_id is None or not can(actor, board_id, READ):
        raise NotFound(f"Ticket {ticket_id} does not exist and has no history.")
    return rows


def ticket_transitions(*, actor, ticket_id: int) -> dict:
    """The columns a ticket has been in, when it entered and left each, and the time
    spent per column in total."""
    moves = list(
        ticket_history(actor=actor, ticket_id=ticket_id).filter(
            field_name__in=["current_column", "deleted"]
        )
    )
    now = timezone.now()
    stays = []
    for index, row in enumerate(moves):
        if row.field_name == "deleted":
            break
        left = moves[index + 1].changed_at if index + 1 < len(moves) else None
        stays.append(
            {
                "column": row.new_value,
                "from_column": row.old_value,
                "entered_at": row.changed_at,
                "left_at": left,
                "duration_seconds": ((left or now) - row.changed_at).total_seconds(),
                "moved_by": row.changed_by.username if row.changed_by else None,
            }
        )
    totals: dict[str, float] = defaultdict(float)
    for stay in stays:
        totals[stay["column"]] += stay["duration_seconds"]
    return {
        "ticket_id": ticket_id,
        "transitions": stays,
        "time_in_columns": [
            {"column": name, "seconds": seconds} for name, seconds in totals.items()
        ],
    }


def board_activity(*, actor, board_id: int) -> QuerySet[TicketHistory]:
    require_board(actor, board_id, READ)
    return history_queryset().filter(board_id=board_id).order_by("-changed_at", "-id")


def _kind(username: str | None, is_agent: bool | None) -> str | None:
    if username is None:
        return None  # the user was deleted; the changes stay counted
    return "agent" if is_agent else "human"


def history_stats(*, actor) -> dict:
    """Counts over the history of the boards `actor` may read, in three aggregate queries."""
    now = timezone.now()
    rows = readable_boards(TicketHistory.objects.all(), actor, field="board_id")
    totals = rows.aggregate(
        total_changes=Count("id"),
        tickets_tracked=Count("ticket_id", distinct=True),
        last_24h=Count("id", filter=Q(changed_at__gte=now - timedelta(hours=24))),
        last_7d=Count("id", filter=Q(changed_at__gte=now - timedelta(days=7))),
        moves=Count("id", filter=Q(field_name="current_column", old_value__isnull=False)),
    )
    by_field = rows.values("field_name").annotate(count=Count("id")).order_by("-count")
    by_actor = (
        rows.values("changed_by__username", "changed_by__is_agent")
        .annotate(count=Count("id"))
        .order_by("-count")[:20]
    )
    return {
        **totals,
        "by_field": {row["field_name"]: row["count"] for row in by_field},
        "by_actor": [
            {
                "username": row["changed_by__username"],
                "kind": _kind(row["changed_by__username"], row["changed_by__is_agent"]),
                "count": row["count"],
            }
            for row in by_actor
        ],
    }
