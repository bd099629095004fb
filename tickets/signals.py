from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.dispatch import Signal

from agent_kanban.errors import Conflict

# Sent by every ticket service, single or bulk, inside its transaction, with
# keyword arguments: actor, board_id, at (the time of the change) and changes
# (a list of TicketChange). Receivers in history/ turn it into TicketHistory rows.
tickets_changed = Signal()


@dataclass(frozen=True)
class TicketChange:
    ticket_id: int
    action: str  # "created", "updated", "moved" or "deleted"
    diffs: dict[str, tuple[Any, Any]] = field(default_factory=dict)


# A ticket move refused with a Conflict (WIP limit, claim, stale version), sent after
# the refused write rolled back; stats/ records it for the drag-and-drop metrics.
REFUSAL_CODES = frozenset({"wip_limit", "claimed", "version_conflict"})

# Sent with: actor, ticket_id, column (the target's name as asked), reason (the code).
move_refused = Signal()


@contextmanager
def refusals_signalled(*, actor, ticket_id: int, column) -> Iterator[None]:
    """Wrap a move (outside its transaction.atomic block): a Conflict with one of
    REFUSAL_CODES sends `move_refused`, then goes on to the caller unchanged."""
    try:
        yield
    except Conflict as error:
        # Marked once sent, so nested wrappers record one refusal, not two.
        if error.code in REFUSAL_CODES and not getattr(error, "refusal_signalled", False):
            error.refusal_signalled = True
            move_refused.send(
                sender=Conflict, actor=actor, ticket_id=ticket_id, column=column, reason=error.code
            )
        raise
