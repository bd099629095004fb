"""The one shape of a ticket: REST responses, board events and MCP task details all
show what `ticket_representation` returns. `TicketSerializer` declares the same
fields for the OpenAPI schema; tests/api/test_response_schema.py holds the two in step."""

from datetime import datetime

from django.utils import timezone

from core.isotime import iso_datetime
from tickets.models import Ticket
from tickets.selectors import board_last_column_id, prefetched


def ticket_representation(ticket: Ticket, *, now: datetime | None = None) -> dict:
    """`ticket` as every surface shows it. Built by hand rather than by DRF's field
    machinery, which on a board read cost more than the queries; read from
    `ticket_queryset()` (or a board read) it needs no further query."""
    now = now or timezone.now()
    zone = timezone.get_current_timezone()
    claimant = ticket.active_claimant_id(now)
    blockers = list(prefetched(ticket, "blocked_by"))
    return {
        "id": ticket.pk,
        "board_id": ticket.board_id,
        "title": ticket.title,
        "description": ticket.description,
        "acceptance_criteria": ticket.acceptance_criteria,
        "priority": ticket.priority_name,
        "current_column": ticket.column.name,
        "column_id": ticket.column_id,
        "position": ticket.position,
        "assignee": ticket.assignee.username if ticket.assignee_id else None,
        "created_by": ticket.created_by.username if ticket.created_by_id else None,
        "labels": sorted(label.name for label in prefetched(ticket, "labels")),
        "column_entered_at": iso_datetime(ticket.column_entered_at, zone),
        "created_at": iso_datetime(ticket.created_at, zone),
        "updated_at": iso_datetime(ticket.updated_at, zone),
        "version": ticket.version,
        "claimed_by": ticket.claimed_by.username if claimant is not None else None,
        "lease_expires_at": (
            iso_datetime(ticket.lease_expires_at, zone) if claimant is not None else None
        ),
        "blocked_by": sorted(blocker.pk for blocker in blockers),
        "is_blocked": _has_unfinished(ticket, blockers),
    }


def _has_unfinished(ticket: Ticket, blockers: list[Ticket]) -> bool:
    """Whether a blocker has not reached the board's last column."""
    if not blockers:
        return False
    last_column_id = getattr(ticket, "last_column_id", None)
    if last_column_id is None:
        last_column_id = board_last_column_id(ticket.board_id)
    return any(blocker.column_id != last_column_id for blocker in blockers)
