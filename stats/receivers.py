import logging

from django.dispatch import receiver

from stats.services import refused_move_record
from tickets.signals import move_refused

logger = logging.getLogger(__name__)


@receiver(move_refused, dispatch_uid="stats.record_refused_move")
def record_refused_move(sender, *, actor, ticket_id: int, column, reason: str, **_) -> None:
    try:
        refused_move_record(actor=actor, ticket_id=ticket_id, reason=reason, column=column)
    except Exception:
        # A metric must never turn the client's 409 into a 500.
        logger.warning("Could not record a refused move of ticket %s", ticket_id, exc_info=True)
