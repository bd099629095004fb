from dataclasses import dataclass, field
from typing import Any

from django.dispatch import Signal

# Sent by every ticket service, single or bulk, inside its transaction, with
# keyword arguments: actor, board_id, at (the time of the change) and changes
# (a list of TicketChange). Receivers in history/ turn it into TicketHistory rows.
tickets_changed = Signal()


@dataclass(frozen=True)
class TicketChange:
    ticket_id: int
    action: str  # "created", "updated", "moved" or "deleted"
    diffs: dict[str, tuple[Any, Any]] = field(default_factory=dict)
