"""Every write to tickets. Each one runs in a transaction, sends `tickets_changed`
(history) and appends a board event (live clients), for single and bulk writes alike."""

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import OperationalError, connection, transaction
from django.db.models import Exists, F, Max, OuterRef, Q, QuerySet
from django.utils import timezone

from agent_kanban import metrics
from agent_kanban.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    VersionConflict,
    field_error,
)
from audit.services import audit_record
from boards.access import ADMIN, READ, WRITE, can, require_board, require_ticket
from boards.models import Board, Column
from history.services import event_append
from tickets import rules
from tickets.models import Label, Priority, Ticket
from tickets.ordering import key_between, keys_after
from tickets.selectors import last_column_subquery, ticket_queryset
from tickets.signals import TicketChange, refusals_signalled, tickets_changed

EDITABLE_FIELDS = {"title", "description", "acceptance_criteria", "priority", "assignee", "labels"}
_UNSET = object()


# ---------------------------------------------------------------- helpers


def ticket_payload(ticket: Ticket) -> dict:
    from tickets.serializers import TicketSerializer

    return dict(TicketSerializer(ticket).data)


def known_relations(ticket: Ticket, *, labels: list[Label], blocked_by: list[Ticket]) -> None:
    """Fill the ticket's labels and blockers as prefetch_related would, from rows in hand."""
    cache = ticket.__dict__.setdefault("_prefetched_objects_cache", {})
    for name, rows in (("labels", labels), ("blocked_by", blocked_by)):
        rows_queryset = getattr(ticket, name).all()
        rows_queryset._result_cache = list(rows)
        rows_queryset._prefetch_done = True
        cache[name] = rows_queryset


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
        "claimed_by": ticket.claimed_by.username if ticket.claimed_by_id else None,
    }


def _end_claim_when_done(ticket: Ticket) -> None:
    """A ticket that reaches the board's last column is finished: its claim ends."""
    if ticket.column_id == ticket.last_column_id and ticket.claimed_by_id:
        ticket.claimed_by, ticket.claimed_at, ticket.lease_expires_at = None, None, None


def _diffs(old: dict, new: dict) -> dict:
    return {name: (old.get(name), value) for name, value in new.items() if old.get(name) != value}


def _record(*, actor, board_id: int, at: datetime, changes: list[TicketChange]) -> None:
    tickets_changed.send(sender=Ticket, actor=actor, board_id=board_id, at=at, changes=changes)


def _board_for_write(board_id: int, actor) -> Board:
    require_board(actor, board_id, WRITE)
    board = Board.objects.filter(pk=board_id).first()
    if board is None:
        raise NotFound(f"Board {board_id} does not exist.")
    return board


def column_by_name(*, board_id: int, name) -> Column:
    columns = list(Column.objects.filter(board_id=board_id).order_by("position"))
    return _column_named(columns, name)


def _column_named(columns: list[Column], name) -> Column:
    """The column called `name` (exactly, else case-insensitively) or a 400 naming them all."""
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
    """Lock the column's board, then the column, and re-read the column's WIP limit.

    Positions in a column are handed out one writer at a time (SQLite's IMMEDIATE
    transactions already serialise writers; this does it on PostgreSQL). The board goes
    first because boards.services.board_set_columns locks the board, then its columns:
    one order everywhere, so a column edit and a ticket write never deadlock."""
    list(Board.objects.select_for_update().filter(pk=column.board_id).values_list("pk"))
    limits = list(
        Column.objects.select_for_update().filter(pk=column.pk).values_list("wip_limit", flat=True)
    )
    if not limits:
        raise Conflict(f"Column {column.name!r} was just removed.", code="column_removed")
    column.wip_limit = limits[0]


def _is_full(column: Column) -> bool:
    return column.wip_limit is not None and (
        Ticket.objects.filter(column=column).count() >= column.wip_limit
    )


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
    key = _key_in(column, position, moving_id)
    if len(key) > rules.POSITION_KEY_MAX:
        # Many insertions at one spot lengthen keys; rather than outgrow the column,
        # re-space the column's keys (their order stays) and place the card again.
        _respace(column, moving_id)
        key = _key_in(column, position, moving_id)
    return key


def _respace(column: Column, moving_id: int | None) -> None:
    """Give the column's cards (but the moving one) short keys in their present order."""
    cards = list(
        Ticket.objects.filter(column=column).exclude(pk=moving_id).order_by("position").only("pk")
    )
    lowest = Ticket.objects.filter(column=column).order_by("position").values_list("position")
    # Every new key sorts below every present one, so no two rows share a key mid-update.
    keys = [lowest.first()[0]]
    for _ in cards:
        keys.append(key_between(None, keys[-1]))
    for card, key in zip(cards, reversed(keys[1:]), strict=True):
        card.position = key
    Ticket.objects.bulk_update(cards, ["position"])
    event_append(
        board_id=column.board_id,
        type="column_respaced",
        payload={"column": column.name, "positions": {c.pk: c.position for c in cards}},
        actor=None,
    )


def _key_in(column: Column, position, moving_id: int | None) -> str:
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


def _claim_conflict(ticket: Ticket) -> Conflict:
    """409 naming the holder of the live claim on `ticket` (a locked, fresh read)."""
    if not ticket.claimed_by_id or not ticket.lease_expires_at:
        return Conflict(f"Ticket {ticket.pk} changed meanwhile; read it again and retry.")
    holder = ticket.claimed_by.username
    until = ticket.lease_expires_at.isoformat()
    return Conflict(
        f"Ticket {ticket.pk} is claimed by {holder} until {until}; only they or an admin "
        "may change it.",
        code="claimed",
        extra={"claimed_by": holder, "lease_expires_at": until},
    )


def _is_board_admin(actor, board_id: int) -> bool:
    return can(actor, board_id, ADMIN)


def ensure_may_change(ticket: Ticket, actor) -> None:
    """Only the holder of an unexpired claim (or a board admin) may change a claimed ticket."""
    holder = ticket.active_claimant_id(timezone.now())
    if holder is not None and holder != actor.pk and not _is_board_admin(actor, ticket.board_id):
        raise _claim_conflict(ticket)


def _lock_tickets(ticket_ids: list[int]) -> None:
    """Lock the ticket rows alone, in id order, before reading them with their joins.

    A joined SELECT ... FOR UPDATE that waits for a row lock has PostgreSQL re-check the
    row against the joined rows it read before the wait, so a ticket that moved meanwhile
    would silently drop out of the result (a false 404)."""
    # An id out of range names no row, and SQLite could not even bind it.
    ids = [pk for pk in ticket_ids if 1 <= pk <= rules.ID_MAX]
    list(Ticket.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk"))


def _ticket_for_write(
    ticket_id: int, expected_version: int | None, actor, *, claim_guard: bool = True
) -> Ticket:
    """The locked ticket, once `actor` may write on its board: NotFound, word for word as
    for a missing ticket, when they may not read the board. `claim_guard` refuses a
    ticket someone else has claimed."""
    _lock_tickets([ticket_id])
    ticket = ticket_queryset().filter(pk=ticket_id).first()
    if ticket is None or not can(actor, ticket.board_id, READ):
        raise NotFound(f"Ticket {ticket_id} does not exist.")
    require_board(actor, ticket.board_id, WRITE)
    if expected_version is not None and expected_version != ticket.version:
        raise VersionConflict(
            f"Ticket {ticket_id} has changed: you have version {expected_version}, "
            f"it is now at version {ticket.version}. Read it again and retry.",
            extra={"current_version": ticket.version},
        )
    if claim_guard:
        ensure_may_change(ticket, actor)
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
        require_board(actor, board_id, WRITE)
        columns = list(Column.objects.filter(board_id=board_id).order_by("position"))
        if not columns and not Board.objects.filter(pk=board_id).exists():
            raise NotFound(f"Board {board_id} does not exist.")
        if column is None:
            if not columns:
                raise InvalidInput(f"Board {board_id} has no columns.")
            target = columns[0]
        else:
            target = _column_named(columns, column)
        _lock_column(target)
        _ensure_room(target, 1)
        now = timezone.now()
        ticket = Ticket.objects.create(
            board_id=board_id,
            column=target,
            position=_position_in(target, position),
            created_by=actor,
            column_entered_at=now,
            created_at=now,
            updated_at=now,
            **values,
        )
        labels = _labels_for(board_id, label_names)
        if labels:
            Ticket.labels.through.objects.bulk_create(
                [Ticket.labels.through(ticket_id=ticket.pk, label_id=label.pk) for label in labels]
            )
        # A new ticket's relations are known: its representation needs no more queries
        # (the event and the API answer are both made from this object).
        ticket.last_column_id = columns[-1].pk
        known_relations(ticket, labels=labels, blocked_by=[])
        initial = {
            name: value
            for name, value in tracked_values(ticket, label_names).items()
            if value not in (None, "")
        }
        _record(
            actor=actor,
            board_id=board_id,
            at=now,
            changes=[TicketChange(ticket.id, "created", _diffs({}, initial))],
        )
        event_append(
            board_id=board_id, type="ticket_created", payload=ticket_payload(ticket), actor=actor
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
        ticket = _ticket_for_write(ticket_id, expected_version, actor)
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
        if action == "moved":
            _announce_unblocked(actor=actor, board_id=ticket.board_id, finished_ids=[ticket.pk])
    return ticket


def _place(
    ticket: Ticket, column: Column, position, now: datetime, override_wip: bool = False
) -> None:
    """Give `ticket` a place in `column` (locking it and checking its WIP limit)."""
    _lock_column(column)
    if column.pk != ticket.column_id:
        if not override_wip:
            _ensure_room(column, 1)
        ticket.column = column
        ticket.column_entered_at = now
        _end_claim_when_done(ticket)
    ticket.position = _position_in(column, position, moving_id=ticket.pk)


def ticket_move(
    *,
    actor,
    ticket_id: int,
    column: str,
    position=None,
    expected_version: int | None = None,
    override_wip: bool = False,
) -> Ticket:
    """Move a ticket to `column` at `position`. A board admin may pass `override_wip` to
    move into a column at its WIP limit; the override is recorded in history and audited."""
    with (
        refusals_signalled(actor=actor, ticket_id=ticket_id, column=column),
        transaction.atomic(),
    ):
        ticket = _ticket_for_write(ticket_id, expected_version, actor)
        if override_wip:
            require_board(actor, ticket.board_id, ADMIN)
        source = ticket.column
        target = column_by_name(board_id=ticket.board_id, name=column)
        if target.pk == source.pk and position is None:
            return ticket
        old_position = ticket.position
        old = tracked_values(ticket, _label_names(ticket))
        now = timezone.now()
        over_limit = override_wip and target.pk != source.pk and _is_full(target)
        _place(ticket, target, position, now, override_wip=override_wip)
        diffs = _diffs(old, tracked_values(ticket, _label_names(ticket)))
        if over_limit:
            diffs["wip_override"] = (None, f"{target.name} (limit {target.wip_limit})")
            audit_record(
                actor=actor,
                action="wip.override",
                board_id=ticket.board_id,
                target_type="ticket",
                target_id=ticket.pk,
                details={"column": target.name, "wip_limit": target.wip_limit},
            )
        if ticket.position != old_position:
            diffs["position"] = (old_position, ticket.position)
        if not diffs:
            return ticket
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
        if target.pk != source.pk:
            _announce_unblocked(actor=actor, board_id=ticket.board_id, finished_ids=[ticket.pk])
    return ticket


def ticket_delete(*, actor, ticket_id: int, expected_version: int | None = None) -> None:
    with transaction.atomic():
        ticket = _ticket_for_write(ticket_id, expected_version, actor)
        board_id, payload = (
            ticket.board_id,
            {"id": ticket.pk, "title": ticket.title, "current_column": ticket.column.name},
        )
        now = timezone.now()
        dependants = _blockers_of_dependants(ticket.pk)
        _record(
            actor=actor,
            board_id=board_id,
            at=now,
            changes=[
                TicketChange(ticket.pk, "deleted", {"title": (ticket.title, None)}),
                *(
                    TicketChange(
                        dependant,
                        "updated",
                        {
                            "blocked_by": (
                                _ids_text(blockers),
                                _ids_text([pk for pk in blockers if pk != ticket.pk]),
                            )
                        },
                    )
                    for dependant, blockers in dependants.items()
                ),
            ],
        )
        ticket.delete()
        event_append(board_id=board_id, type="ticket_deleted", payload=payload, actor=actor)
        # Deleting a blocker frees the tickets it blocked: watchers must see them change.
        for dependant in ticket_queryset().filter(pk__in=dependants):
            fresh = ticket_payload(dependant)
            kind = "ticket_updated" if fresh["is_blocked"] else "ticket_unblocked"
            event_append(board_id=board_id, type=kind, payload=fresh, actor=actor)


def _blockers_of_dependants(ticket_id: int) -> dict[int, list[int]]:
    """For each ticket that `ticket_id` blocks, all of its blockers (one query)."""
    through = Ticket.blocked_by.through.objects
    dependants = through.filter(to_ticket_id=ticket_id).values("from_ticket_id")
    blockers: dict[int, list[int]] = defaultdict(list)
    for dependant, blocker in through.filter(from_ticket_id__in=dependants).values_list(
        "from_ticket_id", "to_ticket_id"
    ):
        blockers[dependant].append(blocker)
    return {dependant: sorted(ids) for dependant, ids in blockers.items()}


# ---------------------------------------------------------------- bulk writes


def _tickets_for_bulk(ticket_ids: list[int], actor) -> list[Ticket]:
    _lock_tickets(ticket_ids)
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
        tickets = _tickets_for_bulk(ticket_ids, actor)
        before = {t.pk: tracked_values(t, _label_names(t)) for t in tickets}
        # Boards in id order, so that two bulk moves lock them in the same order.
        targets = {
            board_id: column_by_name(board_id=board_id, name=column)
            for board_id in sorted({t.board_id for t in tickets})
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
                _end_claim_when_done(ticket)
        results = _bulk_finish(
            actor=actor,
            tickets=tickets,
            before=before,
            now=now,
            operation="move",
            fields=[
                "column",
                "position",
                "column_entered_at",
                "claimed_by",
                "claimed_at",
                "lease_expires_at",
            ],
        )
        for board_id in targets:
            arrived = [t.pk for t in arriving if t.board_id == board_id]
            _announce_unblocked(actor=actor, board_id=board_id, finished_ids=arrived)
        return results


BATCH_FIELDS = {"title", "description", "acceptance_criteria", "priority", "assignee", "labels"}


def _clean_batch(tickets) -> list[dict]:
    """Validate every ticket of a batch before anything is written; errors name the item."""
    if not isinstance(tickets, list | tuple) or not tickets:
        raise rules.invalid("tickets", "Must be a non-empty list of tickets.")
    if len(tickets) > rules.BULK_MAX:
        raise rules.invalid("tickets", f"At most {rules.BULK_MAX} tickets in one request.")
    specs = []
    for index, spec in enumerate(tickets):
        if not isinstance(spec, dict) or set(spec) - BATCH_FIELDS - {"column"}:
            raise rules.invalid(
                f"tickets[{index}]", f"Must be an object with {', '.join(sorted(BATCH_FIELDS))}."
            )
        assignee = spec.get("assignee") or None
        edits = {name: spec[name] for name in BATCH_FIELDS - {"assignee"} if name in spec}
        try:
            if assignee is not None and not isinstance(assignee, str):
                raise rules.invalid("assignee", "Must be a username or null.")
            values = _clean_edits({**edits, "title": spec.get("title")})
        except InvalidInput as error:
            raise InvalidInput(
                f"tickets[{index}].{error.message}",
                validation_errors=[
                    {**row, "field": f"tickets[{index}].{row['field']}"}
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


def tickets_bulk_create(*, actor, board_id: int, tickets: list[dict]) -> list[Ticket]:
    """Create `tickets` (ticket_create's fields, without position) in the order given at
    the bottom of their columns: all or none, with history and one board event for the
    lot, in a number of queries that does not grow with the tickets."""
    specs = _clean_batch(tickets)
    with transaction.atomic():
        board = _board_for_write(board_id, actor)
        columns = list(Column.objects.filter(board=board).order_by("position"))
        if not columns:
            raise InvalidInput(f"Board {board_id} has no columns.")
        targets = [
            columns[0] if spec["column"] is None else _column_named(columns, spec["column"])
            for spec in specs
        ]
        users = _users_named({spec["assignee"] for spec in specs if spec["assignee"]})
        arriving = Counter(column.pk for column in targets)
        by_pk = {column.pk: column for column in targets}
        for pk in sorted(arriving):  # in id order, like every writer that locks columns
            _lock_column(by_pk[pk])
            _ensure_room(by_pk[pk], arriving[pk])
        last_keys = dict(
            Ticket.objects.filter(column__in=list(arriving))
            .values_list("column_id")
            .annotate(last=Max("position"))
        )
        keys = {pk: iter(keys_after(last_keys.get(pk), count)) for pk, count in arriving.items()}
        now = timezone.now()
        created = Ticket.objects.bulk_create(
            Ticket(
                board=board,
                column=column,
                position=next(keys[column.pk]),
                assignee=users.get(spec["assignee"]),
                created_by=actor,
                column_entered_at=now,
                created_at=now,
                updated_at=now,
                **spec["values"],
            )
            for spec, column in zip(specs, targets, strict=True)
        )
        names = sorted({name for spec in specs for name in spec["labels"]})
        labels = {label.name: label for label in _labels_for(board.id, names)}
        Ticket.labels.through.objects.bulk_create(
            Ticket.labels.through(ticket_id=ticket.pk, label_id=labels[name].pk)
            for ticket, spec in zip(created, specs, strict=True)
            for name in spec["labels"]
        )
        changes = []
        for ticket, spec in zip(created, specs, strict=True):
            initial = tracked_values(ticket, spec["labels"])
            initial = {name: value for name, value in initial.items() if value not in (None, "")}
            changes.append(TicketChange(ticket.pk, "created", _diffs({}, initial)))
        _record(actor=actor, board_id=board.id, at=now, changes=changes)
        fresh = list(ticket_queryset().filter(pk__in=[t.pk for t in created]).order_by("pk"))
        event_append(
            board_id=board.id,
            type="bulk_update",
            payload={"operation": "create", "tickets": [ticket_payload(t) for t in fresh]},
            actor=actor,
        )
    return fresh


def tickets_bulk_set_priority(*, actor, ticket_ids: list[int], priority: str) -> list[dict]:
    ticket_ids = rules.clean_ticket_ids(ticket_ids)
    value = rules.clean_priority(priority)
    with transaction.atomic():
        tickets = _tickets_for_bulk(ticket_ids, actor)
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
        tickets = _tickets_for_bulk(ticket_ids, actor)
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


# ---------------------------------------------------------------- dependencies


def _announce_unblocked(*, actor, board_id: int, finished_ids: list[int]) -> None:
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
    dependants = ticket_queryset().filter(blocked_by__in=finished).distinct()
    for dependant in dependants:
        payload = ticket_payload(dependant)
        if not payload["is_blocked"]:
            event_append(board_id=board_id, type="ticket_unblocked", payload=payload, actor=actor)


def _ids_text(ids: list[int]) -> str | None:
    return ", ".join(f"#{pk}" for pk in ids) or None


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


# The first key of the PostgreSQL advisory locks that serialise dependency changes.
DEPENDENCY_LOCK = 4_040_404


def _serialize_dependency_changes(ticket_id: int) -> None:
    """One dependency change per board at a time: two changes that each look acyclic
    alone could otherwise close a cycle together. SQLite runs one writer at a time anyway.
    On PostgreSQL an advisory lock taken before any row lock: a row lock (the board's)
    would deadlock with writers that lock a ticket first and the board last."""
    if connection.vendor != "postgresql" or not 1 <= ticket_id <= rules.ID_MAX:
        return
    board_id = Ticket.objects.filter(pk=ticket_id).values_list("board_id", flat=True).first()
    if board_id is not None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [DEPENDENCY_LOCK, board_id % 2**31]
            )


def ticket_set_dependencies(*, actor, ticket_id: int, blocked_by: list[int]) -> Ticket:
    """Make `blocked_by` the exact set of tickets (of the same board) blocking this one."""
    if not isinstance(blocked_by, list | tuple) or not all(
        isinstance(item, int) and not isinstance(item, bool) for item in blocked_by
    ):
        raise rules.invalid("blocked_by", "Must be a list of ticket ids.")
    wanted = sorted(set(blocked_by))
    if len(wanted) > rules.DEPENDENCIES_MAX:
        raise rules.invalid("blocked_by", f"At most {rules.DEPENDENCIES_MAX} blockers.")
    if not all(1 <= pk <= rules.ID_MAX for pk in wanted):
        raise rules.invalid("blocked_by", "Ticket ids are positive 64-bit numbers.")
    if ticket_id in wanted:
        raise rules.invalid("blocked_by", "A ticket cannot block itself.")
    with transaction.atomic():
        _serialize_dependency_changes(ticket_id)
        # The blockers too, in id order as bulk writes lock: linking to a ticket locks it
        # (its key) anyway, and taking locks in any other order could deadlock.
        _lock_tickets([ticket_id, *wanted])
        ticket = _ticket_for_write(ticket_id, None, actor)
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
        now = timezone.now()
        ticket.version += 1
        ticket.updated_at = now
        ticket.save(update_fields=["version", "updated_at"])
        _record(
            actor=actor,
            board_id=ticket.board_id,
            at=now,
            changes=[
                TicketChange(
                    ticket.pk, "updated", {"blocked_by": (_ids_text(old), _ids_text(wanted))}
                )
            ],
        )
        fresh = ticket_queryset().get(pk=ticket.pk)
        event_append(
            board_id=ticket.board_id,
            type="ticket_updated",
            payload=ticket_payload(fresh),
            actor=actor,
        )
    return fresh


def ticket_add_dependency(*, actor, ticket_id: int, blocked_by_id: int) -> Ticket:
    require_ticket(actor, ticket_id, WRITE)  # before reading its links
    current = list(
        Ticket.blocked_by.through.objects.filter(from_ticket_id=ticket_id).values_list(
            "to_ticket_id", flat=True
        )
    )
    return ticket_set_dependencies(
        actor=actor, ticket_id=ticket_id, blocked_by=[*current, blocked_by_id]
    )


def ticket_remove_dependency(*, actor, ticket_id: int, blocked_by_id: int) -> Ticket:
    require_ticket(actor, ticket_id, WRITE)  # before reading its links
    current = list(
        Ticket.blocked_by.through.objects.filter(from_ticket_id=ticket_id).values_list(
            "to_ticket_id", flat=True
        )
    )
    if blocked_by_id not in current:
        raise rules.invalid("blocked_by", f"Ticket {blocked_by_id} does not block {ticket_id}.")
    return ticket_set_dependencies(
        actor=actor, ticket_id=ticket_id, blocked_by=[pk for pk in current if pk != blocked_by_id]
    )


# ---------------------------------------------------------------- claims and leases


class NothingToClaim(NotFound):
    code = "nothing_to_claim"


def _lease(lease_seconds) -> timedelta:
    if lease_seconds is None:
        return timedelta(seconds=settings.CLAIM_LEASE_SECONDS)
    maximum = settings.CLAIM_LEASE_MAX_SECONDS
    if (
        not isinstance(lease_seconds, int)
        or isinstance(lease_seconds, bool)
        or not 10 <= lease_seconds <= maximum
    ):
        raise rules.invalid("lease_seconds", f"Must be a whole number from 10 to {maximum}.")
    return timedelta(seconds=lease_seconds)


def _claimable(actor, now: datetime) -> Q:
    return Q(claimed_by__isnull=True) | Q(lease_expires_at__lte=now) | Q(claimed_by=actor)


def _unfinished_blockers(ticket: Ticket) -> list[int]:
    return sorted(
        blocker.pk
        for blocker in ticket.blocked_by.all()
        if blocker.column_id != ticket.last_column_id
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _take(*, actor, ticket: Ticket, now: datetime, lease: timedelta) -> Ticket | None:
    """The claim itself: one conditional UPDATE, won only if nobody else holds a live lease.
    `ticket` is the locked row; on success it is updated in place, the claim (and the lapse
    of the lease before it) goes to history and the board's watchers hear of it."""
    expires = now + lease
    won = Ticket.objects.filter(_claimable(actor, now), pk=ticket.pk).update(
        claimed_by=actor,
        claimed_at=now,
        lease_expires_at=expires,
        version=F("version") + 1,
        updated_at=now,
    )
    if not won:
        return None
    previous = ticket.claimed_by.username if ticket.claimed_by_id else None
    diffs = {}
    if previous is not None and ticket.active_claimant_id(now) is None:
        diffs["lease_expired"] = (previous, None)
    if ticket.claimed_by_id != actor.pk:
        diffs["claimed_by"] = (previous, actor.username)
    diffs["lease_expires_at"] = (_iso(ticket.lease_expires_at), expires.isoformat())
    ticket.claimed_by, ticket.claimed_at, ticket.lease_expires_at = actor, now, expires
    ticket.version, ticket.updated_at = ticket.version + 1, now
    _record(
        actor=actor,
        board_id=ticket.board_id,
        at=now,
        changes=[TicketChange(ticket.pk, "updated", diffs)],
    )
    event_append(
        board_id=ticket.board_id,
        type="ticket_claimed",
        payload=ticket_payload(ticket),
        actor=actor,
    )
    return ticket


@metrics.counts_claims("claim")
def ticket_claim(*, actor, ticket_id: int, lease_seconds: int | None = None) -> Ticket:
    """Claim one ticket for `lease_seconds` (the setting CLAIM_LEASE_SECONDS by default).
    Claiming a ticket you already hold renews the lease."""
    lease = _lease(lease_seconds)
    with transaction.atomic():
        ticket = _ticket_for_write(ticket_id, None, actor, claim_guard=False)
        blockers = _unfinished_blockers(ticket)
        if blockers:
            raise Conflict(
                f"Ticket {ticket_id} is blocked by unfinished ticket(s) "
                f"{', '.join(f'#{pk}' for pk in blockers)}.",
                code="blocked",
                extra={"blocked_by": blockers},
            )
        claimed = _take(actor=actor, ticket=ticket, now=timezone.now(), lease=lease)
        if claimed is None:
            raise _claim_conflict(ticket)
    return claimed


def ready_tickets(*, column: Column, last_column_id: int, now: datetime) -> QuerySet[Ticket]:
    """Tickets of `column` that an agent may start now, best first: no live claim, and no
    blocker short of the board's last column. It reads the ticket table alone, so that
    `claim next` can lock the row it picks without dragging joined rows along."""
    unfinished_blockers = Ticket.blocked_by.through.objects.filter(
        from_ticket_id=OuterRef("pk")
    ).exclude(to_ticket__column_id=last_column_id)
    return (
        Ticket.objects.filter(Q(claimed_by__isnull=True) | Q(lease_expires_at__lte=now))
        .filter(column=column)
        .filter(~Exists(unfinished_blockers))
        .order_by("priority", "position", "created_at", "id")
    )


def _matching(tickets: QuerySet[Ticket], labels: list[str], assignee: str | None) -> QuerySet:
    for name in labels:
        tickets = tickets.filter(
            Exists(Ticket.labels.through.objects.filter(ticket_id=OuterRef("pk"), label__name=name))
        )
    if assignee:
        tickets = tickets.filter(
            assignee__in=get_user_model().objects.filter(username=assignee).values("pk")
        )
    return tickets


@metrics.counts_claims("next")
def ticket_claim_next(
    *,
    actor,
    board_id: int,
    column: str | None = None,
    labels: list[str] | None = None,
    assignee: str | None = None,
    lease_seconds: int | None = None,
) -> Ticket:
    """Claim the best ready ticket of a column (the board's first by default), optionally
    only tickets carrying all `labels` or assigned to `assignee`."""
    lease = _lease(lease_seconds)
    wanted_labels = rules.clean_labels(labels)
    if assignee is not None and not isinstance(assignee, str):
        raise rules.invalid("assignee", "Must be a username.")
    board = _board_for_write(board_id, actor)
    columns = list(Column.objects.filter(board=board).order_by("position"))
    target = columns[0] if column is None else column_by_name(board_id=board.pk, name=column)
    for _ in range(settings.CLAIM_NEXT_ATTEMPTS):
        try:
            with transaction.atomic():
                now = timezone.now()
                candidates = _matching(
                    ready_tickets(column=target, last_column_id=columns[-1].pk, now=now),
                    wanted_labels,
                    assignee,
                )
                if connection.features.has_select_for_update_skip_locked:
                    # Racing agents each lock a different row instead of queueing on one.
                    candidates = candidates.select_for_update(skip_locked=True)
                picked = candidates.values_list("pk", flat=True).first()
                if picked is None:
                    raise NothingToClaim(
                        f"Nothing to claim in {target.name!r} of board {board.pk}."
                    )
                ticket = ticket_queryset().get(pk=picked)
                claimed = _take(actor=actor, ticket=ticket, now=now, lease=lease)
                if claimed is not None:
                    return claimed
        except OperationalError as error:
            if not _write_lock_timed_out(error):
                raise
    raise Conflict("Every ready ticket was taken while trying; try again.", code="busy")


def _write_lock_timed_out(error: OperationalError) -> bool:
    """SQLite hands its one write lock to whichever waiter polls first, so under a crowd of
    claimers one can wait past the busy timeout: that is worth another attempt, not a 500.
    Only at the outermost level, where the failed BEGIN left no transaction behind."""
    return (
        connection.vendor == "sqlite" and "locked" in str(error) and not connection.in_atomic_block
    )


def ticket_heartbeat(*, actor, ticket_id: int, lease_seconds: int | None = None) -> Ticket:
    """Extend the holder's lease. An expired lease cannot be revived: claim again.
    The version stays: a heartbeat must not make the holder's own pending edit stale."""
    lease = _lease(lease_seconds)
    with transaction.atomic():
        ticket = _ticket_for_write(ticket_id, None, actor, claim_guard=False)
        now = timezone.now()
        expires = now + lease
        extended = Ticket.objects.filter(
            pk=ticket_id, claimed_by=actor, lease_expires_at__gt=now
        ).update(lease_expires_at=expires)
        if not extended:
            if ticket.active_claimant_id(now) not in (None, actor.pk):
                raise _claim_conflict(ticket)
            raise Conflict(
                f"You hold no live claim on ticket {ticket_id} (it expired or was released); "
                "claim it again.",
                code="not_claimed",
            )
        diffs = {"lease_expires_at": (_iso(ticket.lease_expires_at), expires.isoformat())}
        ticket.lease_expires_at = expires
        _record(
            actor=actor,
            board_id=ticket.board_id,
            at=now,
            changes=[TicketChange(ticket_id, "updated", diffs)],
        )
        event_append(
            board_id=ticket.board_id,
            type="ticket_updated",
            payload=ticket_payload(ticket),
            actor=actor,
        )
    return ticket


def _drop_claim(*, actor, ticket: Ticket, now: datetime) -> None:
    """End the claim on the locked `ticket` (in place), recording whether its lease had
    already run out."""
    dropped = Ticket.objects.filter(
        pk=ticket.pk,
        claimed_by_id=ticket.claimed_by_id,
        lease_expires_at=ticket.lease_expires_at,
    ).update(
        claimed_by=None,
        claimed_at=None,
        lease_expires_at=None,
        version=F("version") + 1,
        updated_at=now,
    )
    if not dropped:
        raise Conflict(f"Ticket {ticket.pk} changed meanwhile; read it again.")
    holder = ticket.claimed_by.username
    diffs = {"claimed_by": (holder, None)}
    if ticket.active_claimant_id(now) is None:
        diffs = {"lease_expired": (holder, None), **diffs}
    ticket.claimed_by, ticket.claimed_at, ticket.lease_expires_at = None, None, None
    ticket.version, ticket.updated_at = ticket.version + 1, now
    _record(
        actor=actor,
        board_id=ticket.board_id,
        at=now,
        changes=[TicketChange(ticket.pk, "updated", diffs)],
    )
    event_append(
        board_id=ticket.board_id,
        type="ticket_released",
        payload=ticket_payload(ticket),
        actor=actor,
    )


def ticket_release(*, actor, ticket_id: int) -> Ticket:
    """Give up a claim: the holder's own, or anyone's for an admin. A lease that ran out
    is nobody's claim any more: only its old holder or an admin may clear it."""
    with transaction.atomic():
        ticket = _ticket_for_write(ticket_id, None, actor, claim_guard=False)
        now = timezone.now()
        holder_id = ticket.active_claimant_id(now)
        admin = _is_board_admin(actor, ticket.board_id)
        if ticket.claimed_by_id is None or (
            holder_id is None and ticket.claimed_by_id != actor.pk and not admin
        ):
            raise Conflict(f"Ticket {ticket_id} is not claimed.", code="not_claimed")
        if holder_id not in (None, actor.pk) and not admin:
            raise Forbidden(
                f"Ticket {ticket_id} is claimed by {ticket.claimed_by.username}; only they "
                "or an admin may release it."
            )
        _drop_claim(actor=actor, ticket=ticket, now=now)
    return ticket


def leases_expire(*, actor=None) -> int:
    """Clear every claim whose lease has run out, recording the expiry in history and
    telling watchers. Claims expire by themselves for `claim next`; this makes it visible."""
    expired = list(
        Ticket.objects.filter(claimed_by__isnull=False, lease_expires_at__lte=timezone.now())
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    cleared = 0
    for ticket_id in expired:
        with transaction.atomic():
            # Locked and read again: its holder may have claimed it anew meanwhile.
            _lock_tickets([ticket_id])
            ticket = ticket_queryset().filter(pk=ticket_id).first()
            now = timezone.now()
            if ticket is None or ticket.claimed_by_id is None or ticket.active_claimant_id(now):
                continue
            _drop_claim(actor=actor, ticket=ticket, now=now)
            cleared += 1
    return cleared
