from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.dispatch import Signal

from core.errors import Conflict

# Sent by every ticket service, single or bulk, inside its transaction, with
# keyword arguments: actor, board_id, at (the time of the change) and changes
# (a list of TicketChange). Receivers in history/ turn it into TicketHistory rows.
tickets_changed = Signal()


@dataclass(frozen=True)
class TicketChange:
    ticket_id: int
    action: str  # "created", "updated", "moved" or "deleted"
    diffs: dict[str, tuple[Any, Any]] = field(default_factory=dict)


# A ticket move refused with a Conflict (WIP limit, claim, stale version, a review
# gate), sent after the refused write rolled back; stats/ records it for the
# drag-and-drop metrics.
REFUSAL_CODES = frozenset({"wip_limit", "claimed", "version_conflict", "review_required"})

# Sent with: actor, ticket_ids (every ticket the refused move named), column (the
# target's name as asked), reason (the code).
move_refused = Signal()


@contextmanager
def refusals_signalled(
    *, actor, column, ticket_id: int | None = None, ticket_ids: Iterable[int] = ()
) -> Iterator[None]:
    """Wrap a move of `ticket_id` (or of each of `ticket_ids`) outside its
    transaction.atomic block: a Conflict with one of REFUSAL_CODES sends `move_refused`,
    then goes on to the caller unchanged."""
    refused = [ticket_id] if ticket_id is not None else list(ticket_ids)
    try:
        yield
    except Conflict as error:
        # Marked once sent, so nested wrappers record one refusal, not two.
        if (
            refused
            and error.code in REFUSAL_CODES
            and not getattr(error, "refusal_signalled", False)
        ):
            error.refusal_signalled = True
            move_refused.send(
                sender=Conflict, actor=actor, ticket_ids=refused, column=column, reason=error.code
            )
        raise
