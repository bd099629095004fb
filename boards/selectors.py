from django.db.models import Count, Prefetch, QuerySet

from agent_kanban.errors import NotFound
from boards.models import Board, Column


def board_list() -> QuerySet[Board]:
    return (
        Board.objects.annotate(ticket_count=Count("tickets"))
        .select_related("created_by")
        .prefetch_related(Prefetch("columns", queryset=Column.objects.order_by("position")))
        .order_by("name", "id")
    )


def board_get(*, board_id: int) -> Board:
    board = board_list().filter(pk=board_id).first()
    if board is None:
        raise NotFound(f"Board {board_id} does not exist.")
    return board


def board_columns(*, board_id: int) -> list[dict]:
    """The board's columns in order with their ticket counts, in one query."""
    columns = (
        Column.objects.filter(board_id=board_id)
        .annotate(ticket_count=Count("tickets"))
        .order_by("position")
    )
    return [
        {
            "id": column.pk,
            "name": column.name,
            "position": column.position,
            "wip_limit": column.wip_limit,
            "ticket_count": column.ticket_count,
            "is_full": column.wip_limit is not None and column.ticket_count >= column.wip_limit,
        }
        for column in columns
    ]
