"""Single-ticket writes: create, edit, move and delete."""

from contextlib import nullcontext

from django.db import transaction

from boards.access import WRITE, require_board
from boards.events import event_append
from boards.models import Board
from core import clock
from core.errors import InvalidInput, NotFound, field_error
from core.transactions import retry_once_on_deadlock
from tickets.models import Label, Ticket
from tickets.selectors import ticket_queryset
from tickets.services._writes import (
    EDITABLE_FIELDS,
    clean_edits,
    created_change,
    diffs,
    label_names,
    labels_for,
    record,
    ticket_for_write,
    ticket_payload,
    tracked_values,
)
from tickets.services.dependencies import blockers_of_dependants, ids_text
from tickets.services.moves import announce_arrivals, move_tickets
from tickets.services.parents import (
    announce_family,
    clean_parent_id,
    detach_subtasks,
    lock_with_parent,
    parent_for_write,
)
from tickets.services.placement import board_columns, column_named, lock_column, position_in
from tickets.services.review_gate import ensure_creatable_in
from tickets.signals import TicketChange, refusals_signalled


@retry_once_on_deadlock
def ticket_create(
    *,
    actor,
    board_id: int,
    title: str,
    column: str | None = None,
    description: str = "",
    acceptance_criteria: str = "",
    priority: str = "medium",
    assignee: str | None = None,
    labels: list[str] | None = None,
    position=None,
    parent_id: int | None = None,
) -> Ticket:
    values = clean_edits(
        {
            "title": title,
            "description": description,
            "acceptance_criteria": acceptance_criteria,
            "priority": priority,
            "assignee": assignee,
            "labels": labels,
        }
    )
    names = values.pop("labels")
    parent_id = clean_parent_id(parent_id)
    with transaction.atomic():
        require_board(actor, board_id, WRITE)
        columns = board_columns(board_id)
        if not columns and not Board.objects.filter(pk=board_id).exists():
            raise NotFound(f"Board {board_id} does not exist.")
        if column is None:
            if not columns:
                raise InvalidInput(f"Board {board_id} has no columns.")
            target = columns[0]
        else:
            target = column_named(columns, column)
        ensure_creatable_in(columns, target)
        parent_for_write(actor=actor, board_id=board_id, parent_id=parent_id, ticket=None)
        lock_column(target, adding=1)
        now = clock.now()
        ticket = Ticket.objects.create(
            board_id=board_id,
            column=target,
            position=position_in(target, position),
            created_by=actor,
            parent_id=parent_id,
            # Created in a review column, it waits for a review by someone else.
            review_requested_by=actor if target.requires_review else None,
            column_entered_at=now,
            created_at=now,
            updated_at=now,
            **values,
        )
        labels = labels_for(board_id, names)
        if labels:
            Ticket.labels.through.objects.bulk_create(
                [Ticket.labels.through(ticket_id=ticket.pk, label_id=label.pk) for label in labels]
            )
        # A new ticket's relations are known: its representation needs no more queries
        # (the event and the API answer are both made from this object).
        ticket.last_column_id = columns[-1].pk
        ticket.subtasks_total = ticket.subtasks_done = 0
        ticket.has_links = False
        known_relations(ticket, labels=labels, blocked_by=[])
        record(
            actor=actor,
            board_id=board_id,
            at=now,
            changes=[created_change(ticket, names)],
            event="ticket_created",
            payload=ticket_payload(ticket),
        )
        announce_family(actor=actor, board_id=board_id, ticket_ids=[parent_id])
    return ticket


def known_relations(ticket: Ticket, *, labels: list[Label], blocked_by: list[Ticket]) -> None:
    """Fill the ticket's labels and blockers as prefetch_related would, from rows in hand."""
    cache = ticket.__dict__.setdefault("_prefetched_objects_cache", {})
    for name, rows in (("labels", labels), ("blocked_by", blocked_by)):
        rows_queryset = getattr(ticket, name).all()
        rows_queryset._result_cache = list(rows)
        rows_queryset._prefetch_done = True
        cache[name] = rows_queryset


@retry_once_on_deadlock
def ticket_update(
    *,
    actor,
    ticket_id: int,
    expected_version: int | None = None,
    override_wip: bool = False,
    override_subtasks: bool = False,
    claim_token: str | None = None,
    **changes,
) -> Ticket:
    """Edit any of EDITABLE_FIELDS; `current_column` moves the ticket to that column's
    bottom, as a move does (`override_wip` included). With `claim_token`, only while the
    claim it names is current (409 `lease_lost` otherwise). `parent_id` makes it a subtask
    of that ticket (None: of none)."""
    target_column = changes.pop("current_column", None)
    parent_given = "parent_id" in changes
    parent_id = clean_parent_id(changes.pop("parent_id", None))
    unknown = sorted(set(changes) - EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(
            f"Unknown field(s): {', '.join(unknown)}.",
            validation_errors=[field_error(name, "Not an editable field.") for name in unknown],
        )
    values = clean_edits(changes)
    refusals = (
        refusals_signalled(actor=actor, ticket_id=ticket_id, column=target_column)
        if target_column is not None
        else nullcontext()
    )
    with refusals, transaction.atomic():
        lock_with_parent(ticket_id, parent_id)
        ticket = ticket_for_write(ticket_id, expected_version, actor, claim_token=claim_token)
        old_labels = label_names(ticket)
        old = tracked_values(ticket, old_labels)
        new_labels = values.pop("labels", old_labels)
        for name, value in values.items():
            setattr(ticket, name, value)
        old_parent_id = ticket.parent_id
        if parent_given and parent_id != old_parent_id:
            parent_for_write(
                actor=actor, board_id=ticket.board_id, parent_id=parent_id, ticket=ticket
            )
            ticket.parent_id = parent_id
        now = clock.now()
        moves = []
        if target_column is not None:
            moves = move_tickets(
                actor=actor,
                tickets=[ticket],
                column=target_column,
                now=now,
                override_wip=override_wip,
                override_subtasks=override_subtasks,
            )
        changed = diffs(old, tracked_values(ticket, new_labels))
        moved = [move for move in moves if move.arrived]
        for move in moved:
            changed.update(move.diffs())
        if not changed:
            return ticket
        if "labels" in changed:
            ticket.labels.set(labels_for(ticket.board_id, new_labels))
        _save(ticket, now)
        record(
            actor=actor,
            board_id=ticket.board_id,
            at=now,
            changes=[TicketChange(ticket.id, "moved" if moved else "updated", changed)],
            event="ticket_moved" if moved else "ticket_updated",
            payload=moved[0].payload() if moved else ticket_payload(ticket),
        )
        announce_arrivals(actor=actor, moves=moved)
        if ticket.parent_id != old_parent_id:
            announce_family(
                actor=actor, board_id=ticket.board_id, ticket_ids=[old_parent_id, ticket.parent_id]
            )
    return ticket


@retry_once_on_deadlock
def ticket_move(
    *,
    actor,
    ticket_id: int,
    column: str,
    position=None,
    expected_version: int | None = None,
    override_wip: bool = False,
    override_subtasks: bool = False,
    claim_token: str | None = None,
) -> Ticket:
    """Move a ticket to `column` at `position`. A board admin may pass `override_wip` to
    move into a column at its WIP limit, and `override_subtasks` to finish a ticket whose
    subtasks are not; each override is recorded in history and audited.
    With `claim_token`, only while the claim it names is current (409 `lease_lost`)."""
    with (
        refusals_signalled(actor=actor, ticket_id=ticket_id, column=column),
        transaction.atomic(),
    ):
        ticket = ticket_for_write(ticket_id, expected_version, actor, claim_token=claim_token)
        old = tracked_values(ticket, label_names(ticket))
        now = clock.now()
        [move] = move_tickets(
            actor=actor,
            tickets=[ticket],
            column=column,
            now=now,
            position=position,
            override_wip=override_wip,
            override_subtasks=override_subtasks,
        )
        changed = {**diffs(old, tracked_values(ticket, label_names(ticket))), **move.diffs()}
        if not changed:
            return ticket
        _save(ticket, now)
        record(
            actor=actor,
            board_id=ticket.board_id,
            at=now,
            changes=[TicketChange(ticket.id, "moved", changed)],
            event="ticket_moved",
            payload=move.payload(),
        )
        announce_arrivals(actor=actor, moves=[move])
    return ticket


def _save(ticket: Ticket, now) -> None:
    ticket.version += 1
    ticket.updated_at = now
    ticket.save()


@retry_once_on_deadlock
def ticket_delete(*, actor, ticket_id: int, expected_version: int | None = None) -> None:
    with transaction.atomic():
        ticket = ticket_for_write(ticket_id, expected_version, actor)
        board_id, payload = (
            ticket.board_id,
            {"id": ticket.pk, "title": ticket.title, "current_column": ticket.column.name},
        )
        now = clock.now()
        dependants = blockers_of_dependants(ticket.pk)
        changes = [
            TicketChange(ticket.pk, "deleted", {"title": (ticket.title, None)}),
            *(
                TicketChange(
                    dependant,
                    "updated",
                    {
                        "blocked_by": (
                            ids_text(blockers),
                            ids_text([pk for pk in blockers if pk != ticket.pk]),
                        )
                    },
                )
                for dependant, blockers in dependants.items()
            ),
        ]
        # Its subtasks stay, without a parent; its parent has one subtask less.
        parent_id = ticket.parent_id
        orphans, orphaned = detach_subtasks(ticket=ticket, now=now)
        changes += orphaned
        ticket.delete()
        record(
            actor=actor,
            board_id=board_id,
            at=now,
            changes=changes,
            event="ticket_deleted",
            payload=payload,
        )
        # Deleting a blocker frees the tickets it blocked: watchers must see them change.
        for dependant in ticket_queryset().filter(pk__in=dependants):
            fresh = ticket_payload(dependant)
            kind = "ticket_updated" if fresh["is_blocked"] else "ticket_unblocked"
            event_append(board_id=board_id, type=kind, payload=fresh, actor=actor)
        announce_family(actor=actor, board_id=board_id, ticket_ids=[*orphans, parent_id])
