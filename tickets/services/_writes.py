"""What every ticket write shares: reading and locking what it writes, checking who may
write it, cleaning the edited values, and the history + event step that ends it."""

import re
import secrets
from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth import get_user_model
from django.utils import timezone

from boards.access import (
    ADMIN,
    READ,
    WRITE,
    board_id_of,
    can,
    readable_ticket,
    require_board,
)
from boards.events import event_append, events_append
from boards.models import Board
from core.errors import Conflict, LeaseLost, NotFound, VersionConflict
from core.ids import is_id
from tickets import rules
from tickets.models import Label, Priority, Ticket
from tickets.representation import ticket_representation
from tickets.selectors import ticket_queryset
from tickets.signals import TicketChange, tickets_changed

EDITABLE_FIELDS = {"title", "description", "acceptance_criteria", "priority", "assignee", "labels"}


# ---------------------------------------------------------------- history and events


def ticket_payload(ticket: Ticket) -> dict:
    """What a board event carries about `ticket`: its one representation."""
    return ticket_representation(ticket)


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
        # As parents.parent_text shows it: "#12".
        "parent": f"#{ticket.parent_id}" if ticket.parent_id is not None else None,
    }


def label_names(ticket: Ticket) -> list[str]:
    return [label.name for label in ticket.labels.all()]


def diffs(old: dict, new: dict) -> dict:
    return {name: (old.get(name), value) for name, value in new.items() if old.get(name) != value}


def created_change(ticket: Ticket, labels: Iterable[str]) -> TicketChange:
    """The history of a new ticket: each tracked field it was given a value in."""
    initial = {
        name: value
        for name, value in tracked_values(ticket, labels).items()
        if value not in (None, "")
    }
    return TicketChange(ticket.pk, "created", diffs({}, initial))


def record(
    *,
    actor,
    board_id: int,
    at: datetime,
    changes: list[TicketChange],
    event: str,
    payload: dict,
) -> None:
    """The step every ticket write ends with, inside its transaction: `tickets_changed`
    (whose receivers write the history of `changes`), then the board event `event`
    with `payload` for the board's watchers."""
    tickets_changed.send(sender=Ticket, actor=actor, board_id=board_id, at=at, changes=changes)
    event_append(board_id=board_id, type=event, payload=payload, actor=actor)


def record_each(
    *,
    actor,
    board_id: int,
    at: datetime,
    changes: list[TicketChange],
    events: list[tuple[str, dict]],
) -> None:
    """`record` for a write to several tickets of one board: the history of `changes` in
    one signal, then one (type, payload) board event per ticket, so that watchers apply
    the same event for a change whether one ticket or many had it."""
    tickets_changed.send(sender=Ticket, actor=actor, board_id=board_id, at=at, changes=changes)
    events_append(board_id=board_id, events=events, actor=actor)


# ---------------------------------------------------------------- reading for write


def board_for_write(board_id: int, actor) -> Board:
    require_board(actor, board_id, WRITE)
    board = Board.objects.filter(pk=board_id).first()
    if board is None:
        raise NotFound(f"Board {board_id} does not exist.")
    return board


def lock_tickets(ticket_ids: list[int]) -> None:
    """Lock the ticket rows alone, in id order, before reading them with their joins.

    One lock order everywhere: the tickets first, then their board (whose event counter
    every write bumps, `boards.events.event_append`). A write beside a ticket (a comment)
    locks the ticket first too (`lock_ticket_for`): otherwise it would take the board first and the
    ticket only at commit (PostgreSQL checks a deferred foreign key then, with a KEY
    SHARE lock), crossing a ticket write that holds the ticket and waits for the board.

    A joined SELECT ... FOR UPDATE that waits for a row lock has PostgreSQL re-check the
    row against the joined rows it read before the wait, so a ticket that moved meanwhile
    would silently drop out of the result (a false 404)."""
    # An id out of range names no row, and SQLite could not even bind it.
    ids = [pk for pk in ticket_ids if is_id(pk)]
    list(
        Ticket.objects.select_for_update(no_key=True)
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk")
    )


def lock_ticket_for(actor, ticket_id: int, need: str = WRITE) -> int:
    """For a write beside a ticket (a comment on it), inside the writer's transaction:
    the ticket's row locked as `lock_tickets` locks it, and read in the same query, so
    that the ticket is taken before the board. Its board id once `actor` may `need` on
    it; NotFound, word for word as `tickets.access.require_ticket` says it, otherwise."""
    board_id = None
    if is_id(ticket_id):
        locked = Ticket.objects.select_for_update(no_key=True).filter(pk=ticket_id)
        board_id = board_id_of(actor, locked)
    if board_id is None or not can(actor, board_id, READ):
        raise NotFound(f"Ticket {ticket_id} does not exist.")
    require_board(actor, board_id, need)
    return board_id


def ticket_for_write(
    ticket_id: int,
    expected_version: int | None,
    actor,
    *,
    claim_guard: bool = True,
    claim_token: str | None = None,
) -> Ticket:
    """The locked ticket, once `actor` may write on its board: NotFound, word for word as
    for a missing ticket, when they may not read the board. A `claim_token` fences the
    write: 409 `lease_lost` unless it names the ticket's current claim (`ensure_lease`).
    `claim_guard` refuses a ticket someone else has claimed."""
    claim_token = clean_claim_token(claim_token)
    lock_tickets([ticket_id])
    ticket = readable_ticket(actor, ticket_queryset(), ticket_id)
    require_board(actor, ticket.board_id, WRITE)
    ensure_lease(ticket, claim_token, timezone.now())
    if expected_version is not None and expected_version != ticket.version:
        raise VersionConflict(
            f"Ticket {ticket_id} has changed: you have version {expected_version}, "
            f"it is now at version {ticket.version}. Read it again and retry.",
            extra={"current_version": ticket.version},
        )
    if claim_guard:
        ensure_may_change(ticket, actor)
    return ticket


# ---------------------------------------------------------------- claims guard


def claim_conflict(ticket: Ticket) -> Conflict:
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


# What `new_claim_token` makes: 43 characters of URL-safe base64 (32 random bytes).
CLAIM_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


def new_claim_token() -> str:
    """The fencing token of a new claim."""
    return secrets.token_urlsafe(32)


def clean_claim_token(value) -> str | None:
    """A claim token as a client gave it: None for none, else one `new_claim_token` could
    have made (400 `invalid` otherwise)."""
    if value is None:
        return None
    if not isinstance(value, str) or not CLAIM_TOKEN_PATTERN.fullmatch(value):
        raise rules.invalid("claim_token", "Must be the claim_token a claim answered with.")
    return value


def ensure_lease(ticket: Ticket, claim_token: str | None, now: datetime) -> None:
    """The fence of every write that names a claim token: `ticket` (locked, fresh) must
    still be under the claim that token names, and its lease must not have run out;
    409 `lease_lost` otherwise. No token, nothing to check: the write's own rules hold."""
    if claim_token is None:
        return
    current = ticket.claim_token
    if (
        current is None
        or not secrets.compare_digest(current, claim_token)
        or ticket.active_claimant_id(now) is None
    ):
        raise LeaseLost(
            f"The claim this claim_token names on ticket {ticket.pk} is no longer current "
            "(its lease ran out, or it was released or claimed again): nothing was "
            "written. Claim the ticket again to go on."
        )


def is_board_admin(actor, board_id: int) -> bool:
    return can(actor, board_id, ADMIN)


def ensure_may_change(ticket: Ticket, actor) -> None:
    """Only the holder of an unexpired claim (or a board admin) may change a claimed ticket."""
    holder = ticket.active_claimant_id(timezone.now())
    if holder is not None and holder != actor.pk and not is_board_admin(actor, ticket.board_id):
        raise claim_conflict(ticket)


# ---------------------------------------------------------------- edited values


def labels_for(board_id: int, names: list[str]) -> list[Label]:
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


def assignee_named(username):
    if username is None or username == "":
        return None
    if not isinstance(username, str):
        raise rules.invalid("assignee", "Must be a username or null.")
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise rules.invalid("assignee", f"No user named {username!r}.")
    return user


def clean_edits(changes: dict) -> dict:
    """Validate edits of EDITABLE_FIELDS given by name; returns model-ready values."""
    cleaners = {
        "title": rules.clean_title,
        "description": lambda value: rules.clean_text("description", value),
        "acceptance_criteria": lambda value: rules.clean_text("acceptance_criteria", value),
        "priority": rules.clean_priority,
        "assignee": assignee_named,
        "labels": rules.clean_labels,
    }
    return {name: cleaners[name](value) for name, value in changes.items()}
