"""Every write to tickets. Each one runs in a transaction, sends `tickets_changed`
(history) and appends a board event (live clients), for single and bulk writes alike."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from agent_kanban.errors import Conflict, InvalidInput, NotFound, VersionConflict, field_error
from boards.models import Board, Column
from history.services import event_append
from tickets import rules
from tickets.models import Label, Priority, Ticket
from tickets.ordering import key_between, keys_after
from tickets.signals import TicketChange, tickets_changed

EDITABLE_FIELDS = {"title", "description", "acceptance_criteria", "priority", "assignee", "labels"}
_UNSET = object()


# ---------------------------------------------------------------- helpers


def ticket_payload(ticket: Ticket) -> dict:
    from tickets.serializers import TicketSerializer

    return dict(TicketSerializer(ticket).data)


def tracked_values(ticket: Ticket, label_names: Iterable[str]) -> dict:
    """The history-tracked fields of a ticket, as the text history shows."""
    return {
        "title": ticket.title,
        "description": ticket.description,
        "acceptance_criteria": ticket.acceptance_criteria,
        "priority": Priority(ticket.priority).label,
        "assignee": ticket.assignee.username if ticket.assignee_id else None,
        "labels": ", ".join(sorted(label_names)) or None,
        "current_column": ticket.column.name,
    }


def _diffs(old: dict, new: dict) -> dict:
    return {name: (old.get(name), value) for name, value in new.items() if old.get(name) != value}


def _record(*, actor, board_id: int, at: datetime, changes: list[TicketChange]) -> None:
    tickets_changed.send(sender=Ticket, actor=actor, board_id=board_id, at=at, changes=changes)


def _board_for_write(board_id: int) -> Board:
    board = Board.objects.filter(pk=board_id).first()
    if board is None:
        raise NotFound(f"Board {board_id} does not exist.")
    return board


def column_by_name(*, board_id: int, name) -> Column:
    columns = list(Column.objects.filter(board_id=board_id).order_by("position"))
    if isinstance(name, str):
        exact = [column for column in columns if column.name == name.strip()]
        loose = [column for column in columns if column.name.lower() == name.strip().lower()]
        if exact or len(loose) == 1:
            return (exact or loose)[0]
    valid = ", ".join(repr(column.name) for column in columns)
    message = f"Unknown column {name!r}. Valid columns: {valid}."
    raise InvalidInput(
        message,
        code="unknown_column",
        validation_errors=[field_error("column", message, "unknown_column")],
    )


def _lock_column(column: Column) -> None:
    # Positions in a column are handed out one writer at a time (SQLite's
    # IMMEDIATE transactions already serialise writers; this does it on PostgreSQL).
    Column.objects.select_for_update().filter(pk=column.pk).first()


def _ensure_room(column: Column, adding: int) -> None:
    if column.wip_limit is None or adding <= 0:
        return
    count = Ticket.objects.filter(column=column).count()
    if count + adding > column.wip_limit:
        raise Conflict(
            f"Column {column.name!r} is at its WIP limit ({count} of {column.wip_limit}).",
            code="wip_limit",
            extra={"column": column.name, "wip_limit": column.wip_limit, "count": count},
        )


def _position_in(column: Column, position, moving_id: int | None = None) -> str:
    where, anchor_id = rules.parse_position(position)
    siblings = Ticket.objects.filter(column=column).exclude(pk=moving_id)
    keys = siblings.values_list("position", flat=True)
    if where == "bottom":
        return key_between(keys.order_by("-position").first(), None)
    if where == "top":
        return key_between(None, keys.order_by("position").first())
    anchor = keys.filter(pk=anchor_id).first()
    if anchor is None:
        raise rules.invalid("position", f"Ticket {anchor_id} is not in column {column.name!r}.")
    if where == "before":
        return key_between(keys.filter(position__lt=anchor).order_by("-position").first(), anchor)
    return key_between(anchor, keys.filter(position__gt=anchor).order_by("position").first())


def _labels_for(board_id: int, names: list[str]) -> list[Label]:
    existing = {
        label.name: label for label in Label.objects.filter(board_id=board_id, name__in=names)
    }
    missing = [Label(board_id=board_id, name=name) for name in names if name not in existing]
    if missing:
        Label.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {
            label.name: label for label in Label.objects.filter(board_id=board_id, name__in=names)
        }
    return [existing[name] for name in names]


def _assignee(username):
    if username is None or username == "":
        return None
    if not isinstance(username, str):
        raise rules.invalid("assignee", "Must be a username or null.")
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise rules.invalid("assignee", f"No user named {username!r}.")
    return user


def _clean_edits(changes: dict) -> dict:
    """Validate edits given by name; returns model-ready values."""
    cleaners = {
        "title": rules.clean_title,
        "description": lambda value: rules.clean_text("description", value),
        "acceptance_criteria": lambda value: rules.clean_text("acceptance_criteria", value),
        "priority": rules.clean_priority,
        "assignee": _assignee,
        "labels": rules.clean_labels,
    }
    return {name: cleaners[name](value) for name, value in changes.items()}


def _ticket_for_write(ticket_id: int, expected_version: int | None) -> Ticket:
    ticket = (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("column", "assignee", "created_by", "board")
        .filter(pk=ticket_id)
        .first()
    )
    if ticket is None:
        raise NotFound(f"Ticket {ticket_id} does not exist.")
    if expected_version is not None and expected_version != ticket.version:
        raise VersionConflict(
            f"Ticket {ticket_id} has changed: you have version {expected_version}, "
            f"it is now at version {ticket.version}. Read it again and retry.",
            extra={"current_version": ticket.version},
        )
    return ticket


def _label_names(ticket: Ticket) -> list[str]:
    return [label.name for label in ticket.labels.all()]


# ---------------------------------------------------------------- single writes


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
) -> Ticket:
    values = _clean_edits(
        {
            "title": title,
            "description": description,
            "acceptance_criteria": acceptance_criteria,
            "priority": priority,
            "assignee": assignee,
            "labels": labels,
        }
    )
    label_names = values.pop("labels")
    with transaction.atomic():
        board = _board_for_write(board_id)
        if column is None:
            target = Column.objects.filter(board=board).order_by("position").first()
            if target is None:
                raise InvalidInput(f"Board {board_id} has no columns.")
        else:
            target = column_by_name(board_id=board.id, name=column)
        _lock_column(target)
        _ensure_room(target, 1)
        now = timezone.now()
        ticket = Ticket.objects.create(
            board=board,
            column=target,
            position=_position_in(target, position),
            created_by=actor,
            column_entered_at=now,
            created_at=now,
            updated_at=now,
            **values,
        )
        ticket.labels.set(_labels_for(board.id, label_names))
        initial = {
            name: value
            for name, value in tracked_values(ticket, label_names).items()
            if value not in (None, "")
        }
        _record(
            actor=actor,
            board_id=board.id,
            at=now,
            changes=[TicketChange(ticket.id, "created", _diffs({}, initial))],
        )
        event_append(
            board_id=board.id, type="ticket_created", payload=ticket_payload(ticket), actor=actor
        )
    return ticket


def ticket_update(
    *, actor, ticket_id: int, expected_version: int | None = None, **changes
) -> Ticket:
    """Edit any of EDITABLE_FIELDS; `current_column` moves the ticket to that column's bottom."""
    target_column = changes.pop("current_column", _UNSET)
    unknown = sorted(set(changes) - EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(
            f"Unknown field(s): {', '.join(unknown)}.",
            validation_errors=[field_error(name, "Not an editable field.") for name in unknown],
        )
    values = _clean_edits(changes)
    with transaction.atomic():
        ticket = _ticket_for_write(ticket_id, expected_version)
        old_labels = _label_names(ticket)
        old = tracked_values(ticket, old_labels)
        new_labels = values.pop("labels", old_labels)
        for name, value in values.items():
            setattr(ticket, name, value)
        now = timezone.now()
        if target_column is not _UNSET:
            column = column_by_name(board_id=ticket.board_id, name=target_column)
            if column.pk != ticket.column_id:
                _place(ticket, column, None, now)
        diffs = _diffs(old, tracked_values(ticket, new_labels))
        if not diffs:
            return ticket
        if "labels" in diffs:
            ticket.labels.set(_labels_for(ticket.board_id, new_labels))
        ticket.version += 1
        ticket.updated_at = now
        ticket.save()
        action = "moved" if "current_column" in diffs else "updated"
        _record(
            actor=actor,
            board_id=ticket.board_id,
            at=now,
            changes=[TicketChange(ticket.id, action, diffs)],
        )
        event_append(
            board_id=ticket.board_id,
            type="ticket_moved" if action == "moved" else "ticket_updated",
            payload=ticket_payload(ticket),
            actor=actor,
        )
    return ticket


def _place(ticket: Ticket, column: Column, position, now: datetime) -> None:
    """Give `ticket` a place in `column` (locking it and checking its WIP limit)."""
    _lock_column(column)
    if column.pk != ticket.column_id:
        _ensure_room(column, 1)
        ticket.column = column
        ticket.column_entered_at = now
    ticket.position = _position_in(column, position, moving_id=ticket.pk)


def ticket_move(
    *, actor, ticket_id: int, column: str, position=None, expected_version: int | None = None
) -> Ticket:
    with transaction.atomic():
        ticket = _ticket_for_write(ticket_id, expected_version)
        source = ticket.column
        target = column_by_name(board_id=ticket.board_id, name=column)
        if target.pk == source.pk and position is None:
            return ticket
        old_position = ticket.position
        now = timezone.now()
        _place(ticket, target, position, now)
        diffs = {}
        if target.pk != source.pk:
            diffs["current_column"] = (source.name, target.name)
        diffs["position"] = (old_position, ticket.position)
        ticket.version += 1
        ticket.updated_at = now
        ticket.save()
        _record(
            actor=actor,
            board_id=ticket.board_id,
            at=now,
            changes=[TicketChange(ticket.id, "moved", diffs)],
        )
        payload = ticket_payload(ticket)
        payload["from_column"] = source.name
        event_append(board_id=ticket.board_id, type="ticket_moved", payload=payload, actor=actor)
    return ticket


def ticket_delete(*, actor, ticket_id: int, expected_version: int | None = None) -> None:
    with transaction.atomic():
        ticket = _ticket_for_write(ticket_id, expected_version)
        board_id, payload = (
            ticket.board_id,
            {"id": ticket.pk, "title": ticket.title, "current_column": ticket.column.name},
        )
        _record(
            actor=actor,
            board_id=board_id,
            at=timezone.now(),
            changes=[TicketChange(ticket.pk, "deleted", {"title": (ticket.title, None)})],
        )
        ticket.delete()
        event_append(board_id=board_id, type="ticket_deleted", payload=payload, actor=actor)


# ---------------------------------------------------------------- bulk writes


def _tickets_for_bulk(ticket_ids: list[int]) -> list[Ticket]:
    found = {
        ticket.pk: ticket
        for ticket in Ticket.objects.select_for_update(of=("self",))
        .select_related("column", "assignee", "created_by", "board")
        .prefetch_related("labels")
        .filter(pk__in=ticket_ids)
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
    return [found[ticket_id] for ticket_id in ticket_ids]


def _bulk_finish(
    *,
    actor,
    tickets: list[Ticket],
    before: dict[int, dict],
    now: datetime,
    operation: str,
    fields: list[str],
) -> list[dict]:
    """Save the changed tickets, write their history and one event per board; report each."""
    results, changed, by_board = [], [], defaultdict(list)
    for ticket in tickets:
        diffs = _diffs(before[ticket.pk], tracked_values(ticket, _label_names(ticket)))
        if diffs:
            ticket.version += 1
            ticket.updated_at = now
            changed.append(ticket)
            action = "moved" if "current_column" in diffs else "updated"
            by_board[ticket.board_id].append((ticket, TicketChange(ticket.pk, action, diffs)))
        results.append(
            {
                "ticket_id": ticket.pk,
                "status": "changed" if diffs else "unchanged",
                "version": ticket.version,
            }
        )
    Ticket.objects.bulk_update(changed, [*fields, "version", "updated_at"])
    for board_id, rows in by_board.items():
        _record(actor=actor, board_id=board_id, at=now, changes=[change for _, change in rows])
        event_append(
            board_id=board_id,
            type="bulk_update",
            payload={"operation": operation, "tickets": [ticket_payload(t) for t, _ in rows]},
            actor=actor,
        )
    return results


def tickets_bulk_move(*, actor, ticket_ids: list[int], column: str) -> list[dict]:
    """Move the tickets, in the order given, to the bottom of `column` on their boards."""
    ticket_ids = rules.clean_ticket_ids(ticket_ids)
    with transaction.atomic():
        tickets = _tickets_for_bulk(ticket_ids)
        before = {t.pk: tracked_values(t, _label_names(t)) for t in tickets}
        targets = {
            board_id: column_by_name(board_id=board_id, name=column)
            for board_id in {t.board_id for t in tickets}
        }
        arriving = [t for t in tickets if t.column_id != targets[t.board_id].pk]
        for target in targets.values():
            _lock_column(target)
            _ensure_room(target, sum(1 for t in arriving if targets[t.board_id].pk == target.pk))
        last_keys = dict(
            Ticket.objects.filter(column__in=[c.pk for c in targets.values()])
            .values_list("column_id")
            .annotate(last=Max("position"))
        )
        now = timezone.now()
        for target in targets.values():
            moving = [t for t in arriving if targets[t.board_id].pk == target.pk]
            for ticket, key in zip(
                moving, keys_after(last_keys.get(target.pk), len(moving)), strict=True
            ):
                ticket.column, ticket.position, ticket.column_entered_at = target, key, now
        return _bulk_finish(
            actor=actor,
            tickets=tickets,
            before=before,
            now=now,
            operation="move",
            fields=["column", "position", "column_entered_at"],
        )


def tickets_bulk_set_priority(*, actor, ticket_ids: list[int], priority: str) -> list[dict]:
    ticket_ids = rules.clean_ticket_ids(ticket_ids)
    value = rules.clean_priority(priority)
    with transaction.atomic():
        tickets = _tickets_for_bulk(ticket_ids)
        before = {t.pk: tracked_values(t, _label_names(t)) for t in tickets}
        for ticket in tickets:
            ticket.priority = value
        return _bulk_finish(
            actor=actor,
            tickets=tickets,
            before=before,
            now=timezone.now(),
            operation="priority",
            fields=["priority"],
        )


def tickets_bulk_assign(*, actor, ticket_ids: list[int], assignee: str | None) -> list[dict]:
    ticket_ids = rules.clean_ticket_ids(ticket_ids)
    user = _assignee(assignee)
    with transaction.atomic():
        tickets = _tickets_for_bulk(ticket_ids)
        before = {t.pk: tracked_values(t, _label_names(t)) for t in tickets}
        for ticket in tickets:
            ticket.assignee = user
        return _bulk_finish(
            actor=actor,
            tickets=tickets,
            before=before,
            now=timezone.now(),
            operation="assign",
            fields=["assignee"],
        )
