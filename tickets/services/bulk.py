"""Writes to many tickets at once: all or none, with the same history and the same
board event per ticket as single writes, in a number of queries that does not grow with
the tickets."""

from collections import Counter, defaultdict
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction

from boards.access import READ, WRITE, can, require_board
from core import clock
from core.errors import InvalidInput, NotFound, field_error
from core.transactions import retry_once_on_deadlock
from tickets import rules
from tickets.models import Ticket
from tickets.ordering import keys_after
from tickets.selectors import ticket_queryset
from tickets.services._writes import (
    EDITABLE_FIELDS,
    assignee_named,
    board_for_write,
    clean_edits,
    created_change,
    diffs,
    ensure_may_change,
    label_names,
    labels_for,
    lock_tickets,
    record_each,
    ticket_payload,
    tracked_values,
)
from tickets.services.moves import Move, announce_arrivals, move_tickets
from tickets.services.parents import announce_family, clean_parent_id, parent_for_write
from tickets.services.placement import board_columns, column_named, last_keys, lock_column
from tickets.services.review_gate import ensure_creatable_in
from tickets.signals import TicketChange, refusals_signalled


@retry_once_on_deadlock
def tickets_bulk_move(
    *,
    actor,
    ticket_ids: list[int],
    column: str,
    override_wip: bool = False,
    override_subtasks: bool = False,
) -> list[dict]:
    """Move the tickets, in the order given, to the bottom of `column` on their boards:
    the rule of a single move, for each of them, in one transaction."""
    ticket_ids = rules.clean_ticket_ids(ticket_ids)
    with (
        refusals_signalled(actor=actor, ticket_ids=ticket_ids, column=column),
        transaction.atomic(),
    ):
        tickets = _tickets_for_bulk(ticket_ids, actor)
        before = {t.pk: tracked_values(t, label_names(t)) for t in tickets}
        now = clock.now()
        moves = move_tickets(
            actor=actor,
            tickets=tickets,
            column=column,
            now=now,
            override_wip=override_wip,
            override_subtasks=override_subtasks,
        )
        moved = [move for move in moves if move.arrived]
        results = _bulk_finish(
            actor=actor,
            tickets=tickets,
            before=before,
            now=now,
            fields=[
                "column",
                "position",
                "column_entered_at",
                "claimed_by",
                "claimed_at",
                "lease_expires_at",
                "claim_token",
                "review_requested_by",
            ],
            moves={move.ticket.pk: move for move in moved},
        )
        announce_arrivals(actor=actor, moves=moved)
        return results


def tickets_bulk_set_priority(*, actor, ticket_ids: list[int], priority: str) -> list[dict]:
    ticket_ids = rules.clean_ticket_ids(ticket_ids)
    value = rules.clean_priority(priority)
    return _bulk_set(actor=actor, ticket_ids=ticket_ids, field="priority", value=value)


def tickets_bulk_assign(*, actor, ticket_ids: list[int], assignee: str | None) -> list[dict]:
    ticket_ids = rules.clean_ticket_ids(ticket_ids)
    user = assignee_named(assignee)
    return _bulk_set(actor=actor, ticket_ids=ticket_ids, field="assignee", value=user)


@retry_once_on_deadlock
def _bulk_set(*, actor, ticket_ids: list[int], field: str, value) -> list[dict]:
    """Give one field of every ticket the same (cleaned) value."""
    with transaction.atomic():
        tickets = _tickets_for_bulk(ticket_ids, actor)
        before = {t.pk: tracked_values(t, label_names(t)) for t in tickets}
        for ticket in tickets:
            setattr(ticket, field, value)
        return _bulk_finish(
            actor=actor,
            tickets=tickets,
            before=before,
            now=clock.now(),
            fields=[field],
        )


@retry_once_on_deadlock
def tickets_bulk_create(
    *,
    actor,
    board_id: int,
    tickets: list[dict],
    parent_id: int | None = None,
    field: str = "tickets",
) -> list[Ticket]:
    """Create `tickets` (ticket_create's fields, without position) in the order given at
    the bottom of their columns: all or none, with history and one board event for the
    lot, in a number of queries that does not grow with the tickets. With `parent_id`,
    all of them are subtasks of that ticket. Errors name an item as `field`[index]."""
    specs = _clean_batch(tickets, field)
    parent_id = clean_parent_id(parent_id)
    with transaction.atomic():
        board = board_for_write(board_id, actor)
        parent_for_write(actor=actor, board_id=board.pk, parent_id=parent_id, ticket=None)
        columns = board_columns(board.pk)
        if not columns:
            raise InvalidInput(f"Board {board_id} has no columns.")
        targets = [
            columns[0] if spec["column"] is None else column_named(columns, spec["column"])
            for spec in specs
        ]
        for target in targets:
            ensure_creatable_in(columns, target)
        users = _users_named({spec["assignee"] for spec in specs if spec["assignee"]})
        arriving = Counter(column.pk for column in targets)
        by_pk = {column.pk: column for column in targets}
        for pk in sorted(arriving):  # in id order, like every writer that locks columns
            lock_column(by_pk[pk], adding=arriving[pk])
        last = last_keys(list(arriving))
        keys = {pk: iter(keys_after(last.get(pk), count)) for pk, count in arriving.items()}
        now = clock.now()
        created = Ticket.objects.bulk_create(
            Ticket(
                board=board,
                column=column,
                position=next(keys[column.pk]),
                assignee=users.get(spec["assignee"]),
                created_by=actor,
                parent_id=parent_id,
                review_requested_by=actor if column.requires_review else None,
                column_entered_at=now,
                created_at=now,
                updated_at=now,
                **spec["values"],
            )
            for spec, column in zip(specs, targets, strict=True)
        )
        names = sorted({name for spec in specs for name in spec["labels"]})
        labels = {label.name: label for label in labels_for(board.id, names)}
        Ticket.labels.through.objects.bulk_create(
            Ticket.labels.through(ticket_id=ticket.pk, label_id=labels[name].pk)
            for ticket, spec in zip(created, specs, strict=True)
            for name in spec["labels"]
        )
        fresh = list(ticket_queryset().filter(pk__in=[t.pk for t in created]).order_by("pk"))
        record_each(
            actor=actor,
            board_id=board.id,
            at=now,
            changes=[
                created_change(ticket, spec["labels"])
                for ticket, spec in zip(created, specs, strict=True)
            ],
            events=[("ticket_created", ticket_payload(ticket)) for ticket in fresh],
        )
        announce_family(actor=actor, board_id=board.id, ticket_ids=[parent_id])
    return fresh


def _tickets_for_bulk(ticket_ids: list[int], actor) -> list[Ticket]:
    lock_tickets(ticket_ids)
    # A ticket on a board the actor may not read is reported missing, like one that is.
    found = {
        ticket.pk: ticket
        for ticket in ticket_queryset().filter(pk__in=ticket_ids)
        if can(actor, ticket.board_id, READ)
    }
    missing = [ticket_id for ticket_id in ticket_ids if ticket_id not in found]
    if missing:
        raise NotFound(
            f"No ticket with id {', '.join(map(str, missing))}; nothing was changed.",
            validation_errors=[
                field_error("ticket_ids", f"Ticket {ticket_id} does not exist.", "not_found")
                for ticket_id in missing
            ],
            extra={
                "results": [
                    {
                        "ticket_id": ticket_id,
                        "status": "not_found" if ticket_id in missing else "ok",
                    }
                    for ticket_id in ticket_ids
                ]
            },
        )
    tickets = [found[ticket_id] for ticket_id in ticket_ids]
    for board_id in sorted({ticket.board_id for ticket in tickets}):
        require_board(actor, board_id, WRITE)
    for ticket in tickets:
        ensure_may_change(ticket, actor)
    return tickets


def _bulk_finish(
    *,
    actor,
    tickets: list[Ticket],
    before: dict[int, dict],
    now: datetime,
    fields: list[str],
    moves: dict[int, Move] | None = None,
) -> list[dict]:
    """Save the changed tickets and write their history; send each changed ticket's own
    event, as a write to that ticket alone would (`ticket_moved` for those in `moves`,
    else `ticket_updated`); report each."""
    moves = moves or {}
    results, changed, by_board = [], [], defaultdict(list)
    for ticket in tickets:
        move = moves.get(ticket.pk)
        changes = diffs(before[ticket.pk], tracked_values(ticket, label_names(ticket)))
        if move is not None:
            changes.update(move.diffs())
        if changes:
            ticket.version += 1
            ticket.updated_at = now
            changed.append(ticket)
            change = TicketChange(ticket.pk, "moved" if move else "updated", changes)
            event = (
                ("ticket_moved", move.payload())
                if move
                else ("ticket_updated", ticket_payload(ticket))
            )
            by_board[ticket.board_id].append((change, event))
        results.append(
            {
                "ticket_id": ticket.pk,
                "status": "changed" if changes else "unchanged",
                "version": ticket.version,
            }
        )
    Ticket.objects.bulk_update(changed, [*fields, "version", "updated_at"])
    for board_id, rows in sorted(by_board.items()):
        record_each(
            actor=actor,
            board_id=board_id,
            at=now,
            changes=[change for change, _ in rows],
            events=[event for _, event in rows],
        )
    return results


def _clean_batch(tickets, field: str = "tickets") -> list[dict]:
    """Validate every ticket of a batch before anything is written; errors name the item."""
    if not isinstance(tickets, list | tuple) or not tickets:
        raise rules.invalid(field, "Must be a non-empty list of tickets.")
    if len(tickets) > rules.BULK_MAX:
        raise rules.invalid(field, f"At most {rules.BULK_MAX} tickets in one request.")
    specs = []
    for index, spec in enumerate(tickets):
        if not isinstance(spec, dict) or set(spec) - EDITABLE_FIELDS - {"column"}:
            raise rules.invalid(
                f"{field}[{index}]",
                f"Must be an object with {', '.join(sorted(EDITABLE_FIELDS))}.",
            )
        assignee = spec.get("assignee") or None
        edits = {name: spec[name] for name in EDITABLE_FIELDS - {"assignee"} if name in spec}
        try:
            if assignee is not None and not isinstance(assignee, str):
                raise rules.invalid("assignee", "Must be a username or null.")
            values = clean_edits({**edits, "title": spec.get("title")})
        except InvalidInput as error:
            raise InvalidInput(
                f"{field}[{index}].{error.message}",
                validation_errors=[
                    {**row, "field": f"{field}[{index}].{row['field']}"}
                    for row in error.validation_errors
                ],
            ) from None
        labels = values.pop("labels", [])
        specs.append(
            {"values": values, "labels": labels, "assignee": assignee, "column": spec.get("column")}
        )
    return specs


def _users_named(usernames: set[str]) -> dict:
    users = {
        user.username: user
        for user in get_user_model().objects.filter(username__in=usernames, is_active=True)
    }
    missing = sorted(usernames - set(users))
    if missing:
        raise rules.invalid("assignee", f"No user named {', '.join(map(repr, missing))}.")
    return users
