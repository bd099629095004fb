"""Every write of the stats app."""

from django.db import transaction
from django.utils import timezone

from stats.models import RefusedMove
from tickets.models import Ticket


def refused_move_record(*, actor, ticket_id: int, reason: str, column="") -> RefusedMove | None:
    """Record a refused move of `ticket_id` (None if the ticket is gone meanwhile)."""
    if reason not in RefusedMove.Reason.values:
        raise ValueError(f"Unknown refusal reason {reason!r}")
    with transaction.atomic():
        board_id = Ticket.objects.filter(pk=ticket_id).values_list("board_id", flat=True).first()
        if board_id is None:
            return None
        return RefusedMove.objects.create(
            board_id=board_id,
            ticket_id=ticket_id,
            actor=actor if getattr(actor, "pk", None) else None,
            reason=reason,
            to_column=column[:100] if isinstance(column, str) else "",
            at=timezone.now(),
        )
