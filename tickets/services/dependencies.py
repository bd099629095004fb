"""Which tickets block which: setting a ticket's blockers (same board, no cycles), and
telling watchers when finished work unblocks others."""

from collections import defaultdict

from django.db import connection, transaction
from django.db.models import F

from boards.access import READ, WRITE, can
from boards.events import events_append
from core import clock
from core.errors import Conflict
from core.ids import ID_MAX
from core.transactions import retry_once_on_deadlock
from tickets import rules
from tickets.access import require_ticket
from tickets.models import Ticket
from tickets.selectors import last_column_subquery, ticket_queryset
from tickets.services._writes import lock_tickets, record, ticket_for_write, ticket_payload
from tickets.signals import TicketChange

# The first key of the PostgreSQL advisory locks that serialise dependency changes.
DEPENDENCY_LOCK = 4_040_404


@retry_once_on_deadlock
def ticket_set_dependencies(*, actor, ticket_id: int, blocked_by: list[int]) -> Ticket:
    """Make `blocked_by` the exact set of tickets (of the same board) blocking this one."""
    if not isinstance(blocked_by, list | tuple) or not all(
        isinstance(item, int) and not isinstance(item, bool) for item in blocked_by
    ):
        raise rules.invalid("blocked_by", "Must be a list of ticket ids.")
    wanted = sorted(set(blocked_by))
    if len(wanted) > rules.DEPENDENCIES_MAX:
        raise rules.invalid("blocked_by", f"At most {rules.DEPENDENCIES_MAX} blockers.")
    if not all(1 <= pk <= ID_MAX for pk in wanted):
        raise rules.invalid("blocked_by", "Ticket ids are positive 64-bit numbers.")
    if ticket_id in wanted:
        raise rules.invalid("blocked_by", "A ticket cannot block itself.")
    with transaction.atomic():
        _serialize_dependency_changes(ticket_id)
        # The blockers too, in id order as bulk writes lock: linking to a ticket locks it
        # (its key) anyway, and taking locks in any other order could deadlock.
        lock_tickets([ticket_id, *wanted])
        ticket = ticket_for_write(ticket_id, None, actor)
        found = {
            pk: board_id
            for pk, board_id in Ticket.objects.filter(pk__in=wanted).values_list("pk", "board_id")
            if can(actor, board_id, READ)
        }
        missing = [pk for pk in wanted if pk not in found]
        if missing:
            raise rules.invalid("blocked_by", f"No ticket with id {missing}.")
        elsewhere = [pk for pk in wanted if found[pk] != ticket.board_id]
        if elsewhere:
            raise rules.invalid(
                "blocked_by", f"Ticket(s) {elsewhere} are on another board; blockers must share it."
            )
        edges: dict[int, set[int]] = defaultdict(set)
        for source, target in Ticket.blocked_by.through.objects.filter(
            from_ticket__board_id=ticket.board_id
        ).values_list("from_ticket_id", "to_ticket_id"):
            edges[source].add(target)
        cycle = [pk for pk in wanted if _reaches(edges, pk, ticket.pk)]
        if cycle:
            raise Conflict(
                f"Ticket(s) {cycle} already depend on ticket {ticket.pk}: that would make a cycle.",
                code="dependency_cycle",
            )
        old = sorted(blocker.pk for blocker in ticket.blocked_by.all())
        if old == wanted:
            return ticket
        ticket.blocked_by.set(wanted)
        now = clock.now()
        ticket.version += 1
        ticket.updated_at = now
        ticket.save(update_fields=["version", "updated_at"])
        fresh = ticket_queryset().get(pk=ticket.pk)
        record(
            actor=actor,
            board_id=ticket.board_id,
            at=now,
            changes=[
                TicketChange(
                    ticket.pk, "updated", {"blocked_by": (ids_text(old), ids_text(wanted))}
                )
            ],
            event="ticket_updated",
            payload=ticket_payload(fresh),
        )
    return fresh


def ticket_add_dependency(*, actor, ticket_id: int, blocked_by_id: int) -> Ticket:
    current = _blocker_ids(actor=actor, ticket_id=ticket_id)
    return ticket_set_dependencies(
        actor=actor, ticket_id=ticket_id, blocked_by=[*current, blocked_by_id]
    )


def ticket_remove_dependency(*, actor, ticket_id: int, blocked_by_id: int) -> Ticket:
    current = _blocker_ids(actor=actor, ticket_id=ticket_id)
    if blocked_by_id not in current:
        raise rules.invalid("blocked_by", f"Ticket {blocked_by_id} does not block {ticket_id}.")
    return ticket_set_dependencies(
        actor=actor, ticket_id=ticket_id, blocked_by=[pk for pk in current if pk != blocked_by_id]
    )


def _blocker_ids(*, actor, ticket_id: int) -> list[int]:
    require_ticket(actor, ticket_id, WRITE)  # before reading its links
    return list(
        Ticket.blocked_by.through.objects.filter(from_ticket_id=ticket_id).values_list(
            "to_ticket_id", flat=True
        )
    )


def _serialize_dependency_changes(ticket_id: int) -> None:
    """One dependency change per board at a time: two changes that each look acyclic
    alone could otherwise close a cycle together. SQLite runs one writer at a time anyway.
    On PostgreSQL an advisory lock taken before any row lock: a row lock (the board's)
    would deadlock with writers that lock a ticket first and the board last."""
    if connection.vendor != "postgresql" or not 1 <= ticket_id <= ID_MAX:
        return
    board_id = Ticket.objects.filter(pk=ticket_id).values_list("board_id", flat=True).first()
    if board_id is not None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [DEPENDENCY_LOCK, board_id % 2**31]
            )


def _reaches(edges: dict[int, set[int]], start: int, goal: int) -> bool:
    """Whether following blocked-by edges from `start` arrives at `goal`."""
    seen, stack = set(), [start]
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(edges.get(node, ()))
    return False


def ids_text(ids: list[int]) -> str | None:
    return ", ".join(f"#{pk}" for pk in ids) or None


def blockers_of_dependants(ticket_id: int) -> dict[int, list[int]]:
    """For each ticket that `ticket_id` blocks, all of its blockers (one query)."""
    through = Ticket.blocked_by.through.objects
    dependants = through.filter(to_ticket_id=ticket_id).values("from_ticket_id")
    blockers: dict[int, list[int]] = defaultdict(list)
    for dependant, blocker in through.filter(from_ticket_id__in=dependants).values_list(
        "from_ticket_id", "to_ticket_id"
    ):
        blockers[dependant].append(blocker)
    return {dependant: sorted(ids) for dependant, ids in blockers.items()}


def announce_unblocked(*, actor, board_id: int, finished_ids: list[int]) -> None:
    """Tickets that reached the board's last column may unblock others: tell watchers."""
    if not finished_ids:
        return
    finished = list(
        Ticket.objects.filter(pk__in=finished_ids)
        .annotate(last_column_id=last_column_subquery())
        .filter(column_id=F("last_column_id"))
        .values_list("pk", flat=True)
    )
    if not finished:
        return
    dependants = ticket_queryset().filter(blocked_by__in=finished).distinct().order_by("pk")
    payloads = [ticket_payload(dependant) for dependant in dependants]
    unblocked = [("ticket_unblocked", p) for p in payloads if not p["is_blocked"]]
    if unblocked:
        events_append(board_id=board_id, events=unblocked, actor=actor)
