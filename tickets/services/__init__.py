"""Every write to tickets. Each one runs in a transaction, sends `tickets_changed`
(history) and appends a board event (live clients), for single and bulk writes alike.

`_writes` holds what every write shares (locking, permission and claim checks, the
history + event step); `placement` columns, WIP limits and card order; `moves` the one
rule by which a ticket reaches a column; then one module a kind of write: `editing`,
`bulk`, `dependencies`, `claims`, `links`."""

from tickets.services._writes import lock_ticket_for
from tickets.services.bulk import (
    tickets_bulk_assign,
    tickets_bulk_create,
    tickets_bulk_move,
    tickets_bulk_set_priority,
)
from tickets.services.claims import (
    NothingToClaim,
    leases_expire,
    ticket_claim,
    ticket_claim_next,
    ticket_fence,
    ticket_heartbeat,
    ticket_release,
)
from tickets.services.dependencies import (
    ticket_add_dependency,
    ticket_remove_dependency,
    ticket_set_dependencies,
)
from tickets.services.editing import ticket_create, ticket_delete, ticket_move, ticket_update
from tickets.services.links import LinkSpec, ticket_link
from tickets.services.progress import ticket_report_progress
from tickets.services.review import ticket_review
from tickets.services.subtasks import ticket_create_subtasks

__all__ = [
    "LinkSpec",
    "NothingToClaim",
    "leases_expire",
    "lock_ticket_for",
    "ticket_add_dependency",
    "ticket_claim",
    "ticket_claim_next",
    "ticket_create",
    "ticket_create_subtasks",
    "ticket_delete",
    "ticket_fence",
    "ticket_heartbeat",
    "ticket_link",
    "ticket_move",
    "ticket_release",
    "ticket_remove_dependency",
    "ticket_report_progress",
    "ticket_review",
    "ticket_set_dependencies",
    "ticket_update",
    "tickets_bulk_assign",
    "tickets_bulk_create",
    "tickets_bulk_move",
    "tickets_bulk_set_priority",
]
