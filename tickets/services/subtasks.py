"""Breaking a ticket into subtasks in one step: a batch of new tickets whose parent it
is, made by the bulk create service (one transaction, all or nothing, the same history
and events as any create). The parent rules themselves are `parents`'."""

from boards.access import WRITE
from tickets import rules
from tickets.access import require_ticket
from tickets.models import Ticket
from tickets.services.bulk import tickets_bulk_create

FIELD = "subtasks"
# What a subtask may be given; the rest (column, assignee, labels) comes later as for
# any ticket. It is made in the board's first column.
SUBTASK_FIELDS = ("title", "description", "acceptance_criteria", "priority")


def ticket_create_subtasks(*, actor, ticket_id: int, subtasks: list[dict]) -> list[Ticket]:
    """Make `subtasks` (each {title, description?, acceptance_criteria?, priority?}) the
    new subtasks of ticket `ticket_id`, in the order given, at the bottom of the board's
    first column: all of them or, with a 400 naming the first bad item
    (`subtasks[2].title`), none. At most `rules.SUBTASKS_MAX` in one call."""
    specs = _clean(subtasks)
    board_id = require_ticket(actor, ticket_id, WRITE)
    return tickets_bulk_create(
        actor=actor, board_id=board_id, tickets=specs, parent_id=ticket_id, field=FIELD
    )


def _clean(subtasks) -> list[dict]:
    if not isinstance(subtasks, list | tuple) or not subtasks:
        raise rules.invalid(FIELD, "Must be a non-empty list of subtasks.")
    if len(subtasks) > rules.SUBTASKS_MAX:
        raise rules.invalid(
            FIELD, f"At most {rules.SUBTASKS_MAX} subtasks in one call (got {len(subtasks)})."
        )
    for index, spec in enumerate(subtasks):
        if not isinstance(spec, dict):
            raise rules.invalid(f"{FIELD}[{index}]", "Must be an object with a title.")
        unknown = sorted(set(spec) - set(SUBTASK_FIELDS))
        if unknown:
            raise rules.invalid(
                f"{FIELD}[{index}]",
                f"Unknown field(s) {', '.join(unknown)}: a subtask has "
                f"{', '.join(SUBTASK_FIELDS)}.",
            )
    return [dict(spec) for spec in subtasks]
