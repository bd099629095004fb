"""The one shape of a ticket: REST responses, board events and MCP task details all
show what `ticket_representation` returns. `TicketSerializer` declares the same
fields for the OpenAPI schema; tests/api/test_response_schema.py holds the two in step."""

from datetime import datetime, tzinfo

from django.utils import timezone

from core.isotime import iso_datetime
from tickets.models import Ticket, TicketLink
from tickets.selectors import board_last_column_id, prefetched, subtask_counts, ticket_links


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
        "parent_id": ticket.parent_id,
        "subtasks": _subtasks(ticket),
        "progress": progress_shown(ticket, now),
        "links": [link_representation(link, zone) for link in ticket_links(ticket)],
    }


def link_representation(link: TicketLink, zone: tzinfo | None = None) -> dict:
    """A branch, commit or pull/merge request that mentions the ticket."""
    return {
        "kind": link.kind,
        "forge": link.forge,
        "url": link.url,
        "title": link.title,
        "state": link.state,
        "external_id": link.external_id,
        "updated_at": iso_datetime(link.updated_at, zone),
    }


def _subtasks(ticket: Ticket) -> dict:
    """How many subtasks the ticket has, and how many of them reached the last column."""
    total, done = subtask_counts(ticket)
    return {"total": total, "done": done}


def _has_unfinished(ticket: Ticket, blockers: list[Ticket]) -> bool:
    """Whether a blocker has not reached the board's last column."""
    if not blockers:
        return False
    last_column_id = getattr(ticket, "last_column_id", None)
    if last_column_id is None:
        last_column_id = board_last_column_id(ticket.board_id)
    return any(blocker.column_id != last_column_id for blocker in blockers)


def report_of_claim(ticket: Ticket) -> bool:
    """Whether the ticket's stored report was made under its current claim."""
    return bool(
        ticket.progress_at and ticket.claimed_at and ticket.progress_at >= ticket.claimed_at
    )


def progress_shown(ticket: Ticket, now) -> dict:
    """The report as every surface shows it, or nulls when there is none: only a live
    claim's own report counts, so a report ends with its claim (released, finished,
    lapsed or taken over) without a write."""
    live = ticket.active_claimant_id(now) is not None and report_of_claim(ticket)
    return {
        "status": ticket.progress_status if live else None,
        "percent": ticket.progress_percent if live else None,
        "at": ticket.progress_at.isoformat() if live else None,
    }
