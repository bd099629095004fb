"""Every write of the stats app."""

from django.db import transaction

from core import clock
from core.transactions import retry_once_on_deadlock
from stats.models import RefusedMove
from tickets.models import Ticket


@retry_once_on_deadlock
def refused_moves_record(
    *, actor, ticket_ids: list[int], reason: str, column=""
) -> list[RefusedMove]:
    """Record a refused move of each of `ticket_ids` (skipping tickets gone meanwhile), in
    two queries however many tickets a refused bulk move named."""
    if reason not in RefusedMove.Reason.values:
        raise ValueError(f"Unknown refusal reason {reason!r}")
    with transaction.atomic():
        boards = dict(Ticket.objects.filter(pk__in=ticket_ids).values_list("pk", "board_id"))
        now = clock.now()
        return RefusedMove.objects.bulk_create(
            RefusedMove(
                board_id=boards[ticket_id],
                ticket_id=ticket_id,
                actor=actor if getattr(actor, "pk", None) else None,
                reason=reason,
                to_column=column[:100] if isinstance(column, str) else "",
                at=now,
            )
            for ticket_id in dict.fromkeys(ticket_ids)
            if ticket_id in boards
        )
