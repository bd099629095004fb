"""Subtasks: a ticket's parent (on its board, at most `rules.SUBTASK_DEPTH_MAX` levels
deep, never its own ancestor), the rule that a parent is not finished while its subtasks
are not, and the events that keep a parent's progress (`subtasks` in its
representation) live for the board's watchers.

Every parent change takes the same locks, in the order every ticket write takes them:
the ticket rows (id order), then the board row. The board lock puts the parent changes
of one board in a row, so that two changes which each keep the tree sound alone (one
nests a ticket deeper while the other adds a level below it) cannot together break it;
each check reads what the one before committed."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import F

from audit.services import audit_records
from boards.access import ADMIN, READ, can, require_board
from boards.events import events_append
from boards.models import Board
from core.errors import Conflict, InvalidInput, field_error
from core.ids import ID_MAX
from tickets import rules
from tickets.models import Ticket
from tickets.selectors import ticket_queryset
from tickets.services._writes import lock_tickets, ticket_payload
from tickets.signals import TicketChange

FIELD = "parent_id"


def parent_text(parent_id: int | None) -> str | None:
    """A parent as history shows it: "#12", as blockers are shown."""
    return f"#{parent_id}" if parent_id is not None else None


def _refused(message: str, code: str) -> InvalidInput:
    return InvalidInput(
        f"{FIELD}: {message}", code=code, validation_errors=[field_error(FIELD, message, code)]
    )


def clean_parent_id(value) -> int | None:
    """A parent as a client gives it: a ticket id, or None for none."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= ID_MAX:
        raise rules.invalid(FIELD, "Must be a ticket id or null.")
    return value


# ---------------------------------------------------------------- setting a parent


def parent_for_write(*, actor, board_id: int, parent_id: int | None, ticket: Ticket | None) -> None:
    """Check, under the locks, that `parent_id` may be the parent of `ticket` (None: of a
    new ticket) on board `board_id`; 400 with a `parent_id` field error otherwise.

    The caller holds the lock of `ticket`'s row when there is one; a caller that locks
    both rows locks them in id order first (`lock_tickets([ticket_id, parent_id])`)."""
    if parent_id is None:
        return
    lock_tickets([parent_id])
    list(Board.objects.select_for_update(no_key=True).filter(pk=board_id).values_list("pk"))
    parent = Ticket.objects.filter(pk=parent_id).values("board_id", "parent_id").first()
    if parent is None or not can(actor, parent["board_id"], READ):
        raise _refused(f"No ticket with id {parent_id}.", "not_found")
    if parent["board_id"] != board_id:
        raise _refused(
            f"Ticket {parent_id} is on another board: a subtask's parent is on its board.",
            "other_board",
        )
    if ticket is not None and parent_id == ticket.pk:
        raise _refused("A ticket cannot be its own parent.", "parent_cycle")
    chain = _ancestry(parent_id, parent["parent_id"], stop_at=ticket.pk if ticket else None)
    if ticket is not None and ticket.pk in chain:
        raise _refused(
            f"Ticket {ticket.pk} is an ancestor of ticket {parent_id}: that would make a cycle.",
            "parent_cycle",
        )
    levels = _levels_below(ticket.pk) if ticket is not None else 1
    deepest = len(chain) + levels
    if deepest > rules.SUBTASK_DEPTH_MAX:
        what = "a new ticket" if ticket is None else f"ticket {ticket.pk}"
        under = f" and {levels - 1} level(s) of subtasks under it" if levels > 1 else ""
        raise _refused(
            f"Subtasks nest at most {rules.SUBTASK_DEPTH_MAX} levels deep: ticket "
            f"{parent_id} is at level {len(chain)}, so {what}{under} would reach level "
            f"{deepest}.",
            "too_deep",
        )


def _ancestry(parent_id: int, grandparent_id: int | None, *, stop_at: int | None) -> list[int]:
    """`parent_id` and its ancestors, nearest first (one query a level; the walk ends at
    `stop_at`, or past the deepest a sound tree can be)."""
    chain, current = [parent_id], grandparent_id
    while current is not None and len(chain) <= rules.SUBTASK_DEPTH_MAX:
        chain.append(current)
        if current == stop_at:
            break
        current = Ticket.objects.filter(pk=current).values_list("parent_id", flat=True).first()
    return chain


def _levels_below(ticket_id: int) -> int:
    """How many levels the ticket's subtree has, itself included (1 for a leaf)."""
    levels, below = 1, [ticket_id]
    while below and levels <= rules.SUBTASK_DEPTH_MAX:
        below = list(Ticket.objects.filter(parent_id__in=below).values_list("pk", flat=True))
        if below:
            levels += 1
    return levels


# ---------------------------------------------------------------- finishing a parent


@dataclass(frozen=True)
class OpenSubtasks:
    """A parent that went to the last column before its subtasks, by an admin's override."""

    ticket: Ticket
    subtask_ids: list[int]


def refuse_open_subtasks(
    *, actor, finishing: list[Ticket], override: bool
) -> dict[int, OpenSubtasks]:
    """`finishing` are about to reach their board's last column, together: a ticket among
    them with a subtask that is not there (nor among them) is refused with 409
    `open_subtasks`, unless a board admin passes `override` (checked by the caller); the
    overridden ones are returned by ticket id, and audited."""
    if not finishing:
        return {}
    by_id = {ticket.pk: ticket for ticket in finishing}
    open_ids: dict[int, list[int]] = defaultdict(list)
    subtasks = (
        Ticket.objects.filter(parent_id__in=by_id)
        .order_by("pk")
        .values_list("parent_id", "pk", "column_id")
    )
    for parent_id, pk, column_id in subtasks:
        if column_id != by_id[parent_id].last_column_id and pk not in by_id:
            open_ids[parent_id].append(pk)
    if not open_ids:
        return {}
    if not override:
        described = "; ".join(
            f"ticket {pk} has {', '.join(f'#{sub}' for sub in subs)}"
            for pk, subs in sorted(open_ids.items())
        )
        raise Conflict(
            f"Unfinished subtasks: {described}. Finish them first (a board admin may pass "
            "override_subtasks).",
            code="open_subtasks",
            extra={
                "open_subtasks": [
                    {"ticket_id": pk, "subtask_ids": subs} for pk, subs in sorted(open_ids.items())
                ]
            },
        )
    overridden = {pk: OpenSubtasks(by_id[pk], subs) for pk, subs in sorted(open_ids.items())}
    audit_records(
        actor=actor,
        action="subtasks.override",
        target_type="ticket",
        records=[
            {
                "board_id": item.ticket.board_id,
                "target_id": pk,
                "details": {"open_subtasks": item.subtask_ids},
            }
            for pk, item in overridden.items()
        ],
    )
    return overridden


def require_override_rights(actor, board_ids: Iterable[int]) -> None:
    """Only a board admin overrides the open-subtasks rule (403 otherwise)."""
    for board_id in sorted(set(board_ids)):
        require_board(actor, board_id, ADMIN)


# ---------------------------------------------------------------- a parent's progress


def progress_changed(tickets: Iterable[tuple[Ticket, int]]) -> dict[int, set[int]]:
    """The parents (by board) whose progress moves of `tickets` changed: each is a
    (ticket as moved, the column it left), and a subtask changes its parent's progress by
    reaching or leaving the board's last column."""
    parents: dict[int, set[int]] = defaultdict(set)
    for ticket, from_column_id in tickets:
        last = getattr(ticket, "last_column_id", None)
        if ticket.parent_id is not None and (ticket.column_id == last or from_column_id == last):
            parents[ticket.board_id].add(ticket.parent_id)
    return parents


def announce_family(*, actor, board_id: int, ticket_ids: Iterable[int | None]) -> None:
    """Tell watchers of the tickets whose representation changed with others: a parent
    whose subtasks came, went, finished or reopened. Each gets a `ticket_updated` event
    with its representation as it now is; its own row did not change, so neither do its
    version and history (as with `ticket_unblocked`)."""
    wanted = sorted({pk for pk in ticket_ids if pk is not None})
    if not wanted:
        return
    tickets = ticket_queryset().filter(pk__in=wanted, board_id=board_id).order_by("pk")
    events = [("ticket_updated", ticket_payload(ticket)) for ticket in tickets]
    if events:
        events_append(board_id=board_id, events=events, actor=actor)


def detach_subtasks(*, ticket: Ticket, now) -> tuple[list[int], list[TicketChange]]:
    """Before `ticket` is deleted: its subtasks lose their parent (a new version each) and
    the history says so. Returns their ids and the history changes."""
    orphans = list(
        Ticket.objects.filter(parent_id=ticket.pk).order_by("pk").values_list("pk", flat=True)
    )
    if not orphans:
        return [], []
    Ticket.objects.filter(pk__in=orphans).update(
        parent=None, version=F("version") + 1, updated_at=now
    )
    change = {"parent": (parent_text(ticket.pk), None)}
    return orphans, [TicketChange(pk, "updated", dict(change)) for pk in orphans]


def lock_with_parent(ticket_id: int, parent_id: int | None) -> None:
    """Before a write that gives `ticket_id` the parent `parent_id` reads it: both rows
    locked in id order, as every writer of several tickets locks them."""
    if parent_id is not None:
        lock_tickets([ticket_id, parent_id])
