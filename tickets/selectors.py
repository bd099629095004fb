from django.db.models import Prefetch, Q, QuerySet

from agent_kanban.errors import NotFound
from tickets import rules
from tickets.models import Label, Ticket


def ticket_queryset() -> QuerySet[Ticket]:
    """Tickets with everything their representation reads, in a constant number of queries."""
    return Ticket.objects.select_related("column", "assignee", "created_by").prefetch_related(
        Prefetch("labels", queryset=Label.objects.order_by("name"))
    )


def ticket_get(*, ticket_id: int) -> Ticket:
    ticket = ticket_queryset().filter(pk=ticket_id).first()
    if ticket is None:
        raise NotFound(f"Ticket {ticket_id} does not exist.")
    return ticket


def ticket_list(
    *,
    board_id: int | None = None,
    column: str | None = None,
    priority: str | None = None,
    assignee: str | None = None,
    label: str | None = None,
    q: str | None = None,
) -> QuerySet[Ticket]:
    """Filtered tickets in board order: board, column, then position within the column."""
    tickets = ticket_queryset()
    if board_id is not None:
        tickets = tickets.filter(board_id=board_id)
    if column:
        tickets = tickets.filter(column__name__iexact=column)
    if priority:
        tickets = tickets.filter(priority=rules.clean_priority(priority))
    if assignee:
        tickets = tickets.filter(assignee__username=assignee)
    if label:
        tickets = tickets.filter(labels__name=label)
    if q:
        tickets = tickets.filter(
            Q(title__icontains=q)
            | Q(description__icontains=q)
            | Q(acceptance_criteria__icontains=q)
        )
    return tickets.order_by("board_id", "column__position", "position", "id")


def board_tickets(*, board_id: int) -> QuerySet[Ticket]:
    return ticket_list(board_id=board_id)
