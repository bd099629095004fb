"""Every write to tickets. Each one runs in a transaction, sends `tickets_changed`
(history) and appends a board event (live clients), for single and bulk writes alike."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Exists, F, Max, OuterRef, Q, QuerySet
from django.utils import timezone

from agent_kanban.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    VersionConflict,
    field_error,
)
from boards.models import Board, Column
from history.services import event_append
from tickets import rules
from tickets.models import Label, Priority, Ticket
from tickets.ordering import key_between, keys_after
from tickets.selectors import ticket_queryset
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
    holder = ticket.claimed_by.username
    until = ticket.lease_expires_at.isoformat()
    return Conflict(
        f"Ticket {ticket.pk} is claimed by {holder} until {until}; only they or an admin "
        "may change it.",
        code="claimed",
        extra={"claimed_by": holder, "lease_expires_at": until},
    )


def ensure_may_change(ticket: Ticket, actor) -> None:
    """Only the holder of an unexpired claim (or an admin) may change a claimed ticket."""
    holder = ticket.active_claimant_id(timezone.now())
    if holder is not None and holder != actor.pk and not actor.is_staff:
        raise _claim_conflict(ticket)


def _ticket_for_write(ticket_id: int, expected_version: int | None, actor=None) -> Ticket:
    ticket = ticket_queryset().select_for_update(of=("self",)).filter(pk=ticket_id).first()
    if ticket is None:
        raise NotFound(f"Ticket {ticket_id} does not exist.")
    if expected_version is not None and expected_version != ticket.version:
        raise VersionConflict(
            f"Ticket {ticket_id} has changed: you have version {expected_version}, "
            f"it is now at version {ticket.version}. Read it again and retry.",
            extra={"current_version": ticket.version},
        )
    if actor is not None:
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
    """Move a ticket to `column` at `position`. An admin may pass `override_wip` to move
    into a column at its WIP limit; the override is recorded in history."""
    if override_wip and not actor.is_staff:
        raise Forbidden("Only an admin may override a WIP limit.")
    with transaction.atomic():
        ticket = _ticket_for_write(ticket_id, expected_version, actor)
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
        _record(
            actor=actor,
            board_id=board_id,
            at=timezone.now(),
            changes=[TicketChange(ticket.pk, "deleted", {"title": (ticket.title, None)})],
        )
        ticket.delete()
        event_append(board_id=board_id, type="ticket_deleted", payload=payload, actor=actor)


# ---------------------------------------------------------------- bulk writes


def _tickets_for_bulk(ticket_ids: list[int], actor) -> list[Ticket]:
    found = {
        ticket.pk: ticket
        for ticket in ticket_queryset().select_for_update(of=("self",)).filter(pk__in=ticket_ids)
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
    last_column = Column.objects.filter(board_id=board_id).order_by("-position").first()
    finished = [
        pk
        for pk in Ticket.objects.filter(pk__in=finished_ids, column=last_column).values_list(
            "pk", flat=True
        )
    ]
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


def ticket_set_dependencies(*, actor, ticket_id: int, blocked_by: list[int]) -> Ticket:
    """Make `blocked_by` the exact set of tickets (of the same board) blocking this one."""
    if not isinstance(blocked_by, list | tuple) or not all(
        isinstance(item, int) and not isinstance(item, bool) for item in blocked_by
    ):
        raise rules.invalid("blocked_by", "Must be a list of ticket ids.")
    wanted = sorted(set(blocked_by))
    if len(wanted) > rules.DEPENDENCIES_MAX:
        raise rules.invalid("blocked_by", f"At most {rules.DEPENDENCIES_MAX} blockers.")
    if ticket_id in wanted:
        raise rules.invalid("blocked_by", "A ticket cannot block itself.")
    with transaction.atomic():
        ticket = _ticket_for_write(ticket_id, None, actor)
        found = dict(Ticket.objects.filter(pk__in=wanted).values_list("pk", "board_id"))
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
    current = list(
        Ticket.blocked_by.through.objects.filter(from_ticket_id=ticket_id).values_list(
            "to_ticket_id", flat=True
        )
    )
    return ticket_set_dependencies(
        actor=actor, ticket_id=ticket_id, blocked_by=[*current, blocked_by_id]
    )


def ticket_remove_dependency(*, actor, ticket_id: int, blocked_by_id: int) -> Ticket:
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


def _take(*, actor, ticket: Ticket, now: datetime, lease: timedelta) -> Ticket | None:
    """The claim itself: one conditional UPDATE, won only if nobody holds a live lease.
    On success: history (with the expiry of a previous holder's lease) and an event."""
    won = Ticket.objects.filter(_claimable(actor, now), pk=ticket.pk).update(
        claimed_by=actor,
        claimed_at=now,
        lease_expires_at=now + lease,
        version=F("version") + 1,
        updated_at=now,
    )
    if not won:
        return None
    previous = ticket.claimed_by.username if ticket.claimed_by_id else None
    diffs = {}
    if ticket.claimed_by_id and ticket.claimed_by_id != actor.pk:
        diffs["lease_expired"] = (previous, None)
    if ticket.claimed_by_id != actor.pk:
        diffs["claimed_by"] = (previous if ticket.claimed_by_id else None, actor.username)
    claimed = ticket_queryset().get(pk=ticket.pk)
    diffs["lease_expires_at"] = (
        ticket.lease_expires_at.isoformat() if ticket.lease_expires_at else None,
        claimed.lease_expires_at.isoformat(),
    )
    _record(
        actor=actor,
        board_id=ticket.board_id,
        at=now,
        changes=[TicketChange(ticket.pk, "updated", diffs)],
    )
    event_append(
        board_id=ticket.board_id,
        type="ticket_claimed",
        payload=ticket_payload(claimed),
        actor=actor,
    )
    return claimed


def ticket_claim(*, actor, ticket_id: int, lease_seconds: int | None = None) -> Ticket:
    """Claim one ticket for `lease_seconds` (the setting CLAIM_LEASE_SECONDS by default).
    Claiming a ticket you already hold renews the lease."""
    lease = _lease(lease_seconds)
    with transaction.atomic():
        ticket = ticket_queryset().filter(pk=ticket_id).first()
        if ticket is None:
            raise NotFound(f"Ticket {ticket_id} does not exist.")
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
            raise _claim_conflict(ticket_queryset().get(pk=ticket_id))
    return claimed


def ready_tickets(*, board_id: int, column: Column, now: datetime, actor=None) -> QuerySet:
    """Tickets of `column` that an agent may start now: not held by a live claim and not
    blocked by a ticket short of the last column; best first."""
    blockers = Ticket.blocked_by.through.objects.filter(from_ticket_id=OuterRef("pk")).exclude(
        to_ticket__column_id=OuterRef("last_column_id")
    )
    free = Q(claimed_by__isnull=True) | Q(lease_expires_at__lte=now)
    return (
        ticket_queryset()
        .filter(free, board_id=board_id, column=column)
        .filter(~Exists(blockers))
        .order_by("priority", "position", "created_at", "id")
    )


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
    board = _board_for_write(board_id)
    if column is None:
        target = Column.objects.filter(board=board).order_by("position").first()
    else:
        target = column_by_name(board_id=board.pk, name=column)
    for _ in range(settings.CLAIM_NEXT_ATTEMPTS):
        with transaction.atomic():
            now = timezone.now()
            candidates = ready_tickets(board_id=board.pk, column=target, now=now)
            for name in wanted_labels:
                candidates = candidates.filter(
                    Exists(
                        Ticket.labels.through.objects.filter(
                            ticket_id=OuterRef("pk"), label__name=name
                        )
                    )
                )
            if assignee:
                candidates = candidates.filter(assignee__username=assignee)
            if connection.features.has_select_for_update_skip_locked:
                # Racing agents each lock a different row instead of queueing on one.
                candidates = candidates.select_for_update(skip_locked=True, of=("self",))
            ticket = candidates.first()
            if ticket is None:
                raise NothingToClaim(f"Nothing to claim in {target.name!r} of board {board.pk}.")
            claimed = _take(actor=actor, ticket=ticket, now=now, lease=lease)
            if claimed is not None:
                return claimed
    raise Conflict("Every ready ticket was taken while trying; try again.", code="busy")


def ticket_heartbeat(*, actor, ticket_id: int, lease_seconds: int | None = None) -> Ticket:
    """Extend the holder's lease. An expired lease cannot be revived: claim again."""
    lease = _lease(lease_seconds)
    with transaction.atomic():
        now = timezone.now()
        ticket = ticket_queryset().filter(pk=ticket_id).first()
        if ticket is None:
            raise NotFound(f"Ticket {ticket_id} does not exist.")
        extended = Ticket.objects.filter(
            pk=ticket_id, claimed_by=actor, lease_expires_at__gt=now
        ).update(lease_expires_at=now + lease)
        if not extended:
            if ticket.active_claimant_id(now) not in (None, actor.pk):
                raise _claim_conflict(ticket)
            raise Conflict(
                f"You hold no live claim on ticket {ticket_id} (it expired or was released); "
                "claim it again.",
                code="not_claimed",
            )
        fresh = ticket_queryset().get(pk=ticket_id)
        _record(
            actor=actor,
            board_id=ticket.board_id,
            at=now,
            changes=[
                TicketChange(
                    ticket_id,
                    "updated",
                    {
                        "lease_expires_at": (
                            ticket.lease_expires_at.isoformat(),
                            fresh.lease_expires_at.isoformat(),
                        )
                    },
                )
            ],
        )
        event_append(
            board_id=ticket.board_id,
            type="ticket_updated",
            payload=ticket_payload(fresh),
            actor=actor,
        )
    return fresh


def _drop_claim(*, actor, ticket: Ticket, now: datetime, expired: bool) -> bool:
    holder_id = ticket.claimed_by_id
    dropped = Ticket.objects.filter(pk=ticket.pk, claimed_by_id=holder_id).update(
        claimed_by=None,
        claimed_at=None,
        lease_expires_at=None,
        version=F("version") + 1,
        updated_at=now,
    )
    if not dropped:
        return False
    diffs = {"claimed_by": (ticket.claimed_by.username, None)}
    if expired:
        diffs = {"lease_expired": (ticket.claimed_by.username, None), **diffs}
    _record(
        actor=actor,
        board_id=ticket.board_id,
        at=now,
        changes=[TicketChange(ticket.pk, "updated", diffs)],
    )
    event_append(
        board_id=ticket.board_id,
        type="ticket_released",
        payload=ticket_payload(ticket_queryset().get(pk=ticket.pk)),
        actor=actor,
    )
    return True


def ticket_release(*, actor, ticket_id: int) -> Ticket:
    """Give up a claim: the holder's own, or anyone's for an admin."""
    with transaction.atomic():
        ticket = ticket_queryset().filter(pk=ticket_id).first()
        if ticket is None:
            raise NotFound(f"Ticket {ticket_id} does not exist.")
        if ticket.claimed_by_id is None:
            raise Conflict(f"Ticket {ticket_id} is not claimed.", code="not_claimed")
        if ticket.claimed_by_id != actor.pk and not actor.is_staff:
            raise Forbidden(
                f"Ticket {ticket_id} is claimed by {ticket.claimed_by.username}; only they "
                "or an admin may release it."
            )
        now = timezone.now()
        expired = ticket.active_claimant_id(now) is None
        if not _drop_claim(actor=actor, ticket=ticket, now=now, expired=expired):
            raise Conflict(
                f"Ticket {ticket_id} changed hands meanwhile; read it again.", code="conflict"
            )
    return ticket_queryset().get(pk=ticket_id)


def leases_expire(*, actor=None) -> int:
    """Clear every claim whose lease has run out, recording the expiry in history and
    telling watchers. Claims expire by themselves for `claim next`; this makes it visible."""
    now = timezone.now()
    expired = list(ticket_queryset().filter(claimed_by__isnull=False, lease_expires_at__lte=now))
    cleared = 0
    for ticket in expired:
        with transaction.atomic():
            cleared += _drop_claim(actor=actor, ticket=ticket, now=now, expired=True)
    return cleared
