import logging

from django.dispatch import receiver

from stats.services import refused_moves_record
from tickets.signals import move_refused

logger = logging.getLogger(__name__)


@receiver(move_refused, dispatch_uid="stats.record_refused_move")
def record_refused_move(sender, *, actor, ticket_ids: list[int], column, reason: str, **_) -> None:
    try:
        refused_moves_record(actor=actor, ticket_ids=ticket_ids, reason=reason, column=column)
    except Exception:
        # A metric must never turn the client's 409 into a 500.
        logger.warning("Could not record a refused move of tickets %s", ticket_ids, exc_info=True)
