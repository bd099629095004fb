import copy
import functools
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db.models import (
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce

from boards.access import WRITE, can, readable_boards, readable_ticket
from boards.models import Board, Column
from boards.selectors import board_readable
from tickets import rules
from tickets.models import Label, Ticket, TicketLink

BLOCKER_FIELDS = ["id", "column_id"]
User = get_user_model()


def last_column_subquery() -> Subquery:
    """The id of the ticket's board's last column: reaching it means done."""
    return Subquery(
        Column.objects.filter(board_id=OuterRef("board_id")).order_by("-position").values("pk")[:1]
    )


def board_last_column_id(board_id: int) -> int | None:
    """The id of the board's last column, for a ticket read without `last_column_subquery`."""
    return (
        Column.objects.filter(board_id=board_id)
        .order_by("-position")
        .values_list("pk", flat=True)
        .first()
    )


def _subtasks_counted(**only) -> Coalesce:
    """How many subtasks the outer ticket has (of them, those matching `only`). The
    condition is the count's, not the WHERE's: the lookup stays on the parent index."""
    counted = (
        Ticket.objects.filter(parent_id=OuterRef("pk"))
        .order_by()
        .values("parent_id")
        .annotate(n=Count("pk", filter=Q(**only)) if only else Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def with_subtask_counts(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """`tickets` (annotated with `last_column_id`) with `subtasks_total` and
    `subtasks_done` (those in the board's last column), in the query that reads them:
    an index lookup a row, not a query a ticket."""
    return tickets.annotate(subtasks_total=_subtasks_counted()).annotate(
        subtasks_done=_subtasks_counted(column_id=OuterRef("last_column_id"))
    )


def subtask_counts(ticket: Ticket) -> tuple[int, int]:
    """(total, done) of the ticket's subtasks: annotated by `ticket_queryset()`, else
    read (one query, for a ticket read some other way)."""
    total = getattr(ticket, "subtasks_total", None)
    done = getattr(ticket, "subtasks_done", None)
    if total is not None and done is not None:
        return total, done
    last_column_id = getattr(ticket, "last_column_id", None)
    if last_column_id is None:
        last_column_id = board_last_column_id(ticket.board_id)
    counts = Ticket.objects.filter(parent_id=ticket.pk).aggregate(
        total=Count("pk"), done=Count("pk", filter=Q(column_id=last_column_id))
    )
    return counts["total"], counts["done"]


def with_link_flags(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """`tickets` with `has_links`, in the query that reads them: the links themselves are
    read only for the tickets that have any (most have none), so a read of tickets
    without links costs no query more."""
    return tickets.annotate(has_links=Exists(TicketLink.objects.filter(ticket_id=OuterRef("pk"))))


def ticket_links(ticket: Ticket) -> list[TicketLink]:
    """The ticket's links, oldest first: attached by `attach_relations`, known to be none
    from `has_links`, or read (one query)."""
    cache = getattr(ticket, "_prefetched_objects_cache", {})
    if "links" in cache:
        return list(cache["links"])
    if getattr(ticket, "has_links", None) is False:
        return []
    return list(TicketLink.objects.filter(ticket_id=ticket.pk).order_by("created_at", "id"))


def ticket_queryset() -> QuerySet[Ticket]:
    """Tickets with everything their representation reads, in a constant number of queries."""
    # Built once per process and copied: building it (resolving its annotations) cost
    # 1.9 ms, a copy 0.01 ms, and every read or write of a ticket starts here.
    return _ticket_queryset().all()


@functools.cache
def _ticket_queryset() -> QuerySet[Ticket]:
    tickets = Ticket.objects.select_related("column", "assignee", "created_by", "claimed_by")
    tickets = with_subtask_counts(tickets.annotate(last_column_id=last_column_subquery()))
    tickets = with_link_flags(tickets)
    return tickets.prefetch_related(
        Prefetch("labels", queryset=Label.objects.order_by("name")),
        Prefetch("blocked_by", queryset=Ticket.objects.only(*BLOCKER_FIELDS).order_by("id")),
    )


def ticket_get(*, actor, ticket_id: int) -> Ticket:
    """The ticket, or NotFound when it is missing or on a board `actor` may not read."""
    return readable_ticket(actor, ticket_queryset(), ticket_id)


def ticket_subtasks(*, actor, ticket_id: int) -> QuerySet[Ticket]:
    """The ticket's subtasks, oldest first (the order they were planned in); NotFound as
    `ticket_get` for a ticket `actor` may not read. Read a page at a time with
    `with_page_relations` and `attach_relations`, as lists are."""
    parent = readable_ticket(actor, Ticket.objects.only("pk", "board_id"), ticket_id)
    return ticket_queryset().filter(parent_id=parent.pk).order_by("id")


def ticket_list(
    *,
    actor,
    board_id: int | None = None,
    column: str | None = None,
    priority: str | None = None,
    assignee: str | None = None,
    label: str | None = None,
    q: str | None = None,
) -> QuerySet[Ticket]:
    """Filtered tickets in board order: board, column, then position within the column.
    Only boards `actor` may read; naming one they may not is NotFound, as for a missing one."""
    tickets = ticket_queryset()
    if board_id is not None:
        board_readable(actor=actor, board_id=board_id)
        tickets = tickets.filter(board_id=board_id)
    else:
        tickets = readable_boards(tickets, actor, field="board_id")
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


def board_tickets(*, actor, board_id: int) -> list[Ticket]:
    """Every ticket of the board in board order, with labels and blockers attached."""
    tickets = ticket_list(actor=actor, board_id=board_id).select_related(None)
    tickets = with_board_relations(tickets, board_id)
    _attach_columns_and_people(tickets, board_id)
    return tickets


def _attach_columns_and_people(tickets: list[Ticket], board_id: int) -> None:
    """What `select_related` would join, read once each: a board has a handful of
    columns and people, and joining them made an instance of each per ticket."""
    columns = {column.pk: column for column in Column.objects.filter(board_id=board_id)}
    people_fields = [
        Ticket._meta.get_field(name) for name in ("assignee", "created_by", "claimed_by")
    ]
    wanted = {
        person_id
        for ticket in tickets
        for field in people_fields
        if (person_id := getattr(ticket, field.attname)) is not None
    }
    people = {person.pk: person for person in User.objects.filter(pk__in=wanted)} if wanted else {}
    column_field = Ticket._meta.get_field("column")
    for ticket in tickets:
        column_field.set_cached_value(ticket, columns[ticket.column_id])
        for field in people_fields:
            field.set_cached_value(ticket, people.get(getattr(ticket, field.attname)))


def with_board_relations(tickets: QuerySet[Ticket], board_id: int) -> list[Ticket]:
    """The tickets of one board, with what `ticket_queryset()` prefetches attached in
    two queries keyed on the board: prefetching sends `IN (<every ticket id>)` twice,
    and builds a filtered queryset per ticket, which is most of a big board's cost.
    For reading: `ticket.labels.all()` and `ticket.blocked_by.all()` answer from memory."""
    tickets = list(tickets.prefetch_related(None))
    attach_relations(tickets, board_id=board_id)
    return tickets


def with_page_relations(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """`tickets` to be read a page at a time: `attach_relations` the page afterwards."""
    return tickets.prefetch_related(None)


def attach_relations(tickets: list[Ticket], *, board_id: int | None = None) -> None:
    """Labels, blockers and forge links for `tickets`, read in two queries (three when
    one of them has links): of one board when `board_id` is given (a whole board), else
    of these tickets (a page)."""
    if not tickets:
        return
    by_id = {ticket.pk: ticket for ticket in tickets}
    links = {"ticket__board_id": board_id} if board_id is not None else {"ticket_id__in": by_id}
    labels: dict[int, list[Label]] = {pk: [] for pk in by_id}
    label_links = (
        Ticket.labels.through.objects.filter(**links)
        .select_related("label")
        .order_by("label__name", "label_id")
    )
    for link in label_links:
        if link.ticket_id in labels:
            labels[link.ticket_id].append(link.label)
    blocked = (
        {"from_ticket__board_id": board_id}
        if board_id is not None
        else {"from_ticket_id__in": by_id}
    )
    blockers: dict[int, list[Ticket]] = {pk: [] for pk in by_id}
    blocker_links = (
        Ticket.blocked_by.through.objects.filter(**blocked)
        .order_by("to_ticket_id")
        .values_list("from_ticket_id", "to_ticket_id", "to_ticket__column_id")
    )
    for blocked_id, blocker_id, column_id in blocker_links:
        if blocked_id in blockers:
            blocker = Ticket.from_db(None, BLOCKER_FIELDS, (blocker_id, column_id))
            blockers[blocked_id].append(blocker)
    forge_links = _links_of(tickets, board_id)
    empty_links = TicketLink.objects.none()
    empty_labels = Label.objects.none()
    empty_tickets = Ticket.objects.none()
    for pk, ticket in by_id.items():
        ticket._prefetched_objects_cache = {
            "labels": _cached(empty_labels, labels[pk]),
            "blocked_by": _cached(empty_tickets, blockers[pk]),
            "links": _cached(empty_links, forge_links.get(pk, [])),
        }


def _links_of(tickets: list[Ticket], board_id: int | None) -> dict[int, list[TicketLink]]:
    """The links of `tickets` by ticket id: one query, or none when `has_links` says that
    none of them has any."""
    linked = [ticket.pk for ticket in tickets if getattr(ticket, "has_links", True)]
    if not linked:
        return {}
    found: dict[int, list[TicketLink]] = {}
    where = {"ticket__board_id": board_id} if board_id is not None else {"ticket_id__in": linked}
    rows = TicketLink.objects.filter(**where)
    for link in rows.order_by("created_at", "id"):
        found.setdefault(link.ticket_id, []).append(link)
    return found


def prefetched(ticket: Ticket, name: str) -> Iterable:
    """`ticket.<name>.all()` without building a related manager (at 5,000 tickets, a
    good part of the read's cost) when the relation was prefetched; read as usual if not."""
    cache = getattr(ticket, "_prefetched_objects_cache", {})
    if name in cache:
        return cache[name]
    return getattr(ticket, name).all()


def _cached(empty: QuerySet, rows: list) -> QuerySet:
    """A queryset that answers from `rows`, as a prefetch leaves it (never executed; a
    shallow copy of one unexecuted queryset is much cheaper than building one)."""
    queryset = copy.copy(empty)
    queryset._result_cache = rows
    queryset._prefetch_done = True
    return queryset


def ticket_dependencies(*, actor, ticket_id: int) -> dict:
    """What blocks the ticket and what it blocks, each with whether it is finished."""
    ticket = ticket_get(actor=actor, ticket_id=ticket_id)
    related = (
        Ticket.objects.filter(Q(blocks=ticket) | Q(blocked_by=ticket))
        .select_related("column")
        .annotate(last_column_id=last_column_subquery())
        .distinct()
    )
    blocker_ids = {blocker.pk for blocker in ticket.blocked_by.all()}

    def ref(other: Ticket) -> dict:
        return {
            "id": other.pk,
            "title": other.title,
            "current_column": other.column.name,
            "is_finished": other.column_id == other.last_column_id,
        }

    refs = sorted(related, key=lambda other: other.pk)
    blocked_by = [ref(other) for other in refs if other.pk in blocker_ids]
    return {
        "ticket_id": ticket.pk,
        "is_blocked": any(not item["is_finished"] for item in blocked_by),
        "blocked_by": blocked_by,
        "blocks": [ref(other) for other in refs if other.pk not in blocker_ids],
    }


def awaiting_review_by(tickets: QuerySet[Ticket], *, actor, board_id: int, now) -> QuerySet[Ticket]:
    """Of `tickets` (of the board `board_id`), those waiting in a column that requires
    review which `actor` may review (tickets.services.review's rule): none for someone
    who may not write there, or for an agent where only people review; never a ticket
    `actor` holds or moved into review."""
    review_by = Board.objects.filter(pk=board_id).values_list("review_by", flat=True).first()
    if not can(actor, board_id, WRITE) or (review_by == "humans" and actor.is_agent):
        return tickets.none()
    return (
        tickets.filter(column__requires_review=True)
        .exclude(review_requested_by=actor)
        .exclude(claimed_by=actor, lease_expires_at__gt=now)
    )
