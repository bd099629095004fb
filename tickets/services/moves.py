"""The one way a ticket reaches a column: POST /move, PATCH `current_column` and the bulk
move all place tickets here, so they share the review gate (`review_gate`), the WIP
check, the admin's override (on the record), the positions, the end of a finished
ticket's claim, the `ticket_moved` payload and the announcements of tickets a finished
one unblocks. Each caller wraps its
transaction in `tickets.signals.refusals_signalled`, so a refused move is counted
whichever door it came through."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from audit.services import audit_records
from boards.access import ADMIN, require_board
from boards.models import Column
from tickets.models import Ticket
from tickets.ordering import keys_after
from tickets.services._writes import ticket_payload
from tickets.services.dependencies import announce_unblocked
from tickets.services.parents import (
    announce_family,
    progress_changed,
    refuse_open_subtasks,
    require_override_rights,
)
from tickets.services.placement import (
    board_columns,
    column_named,
    end_claim_when_done,
    last_keys,
    lock_column,
    position_in,
)
from tickets.services.review_gate import ensure_moves_pass, note_arrival


@dataclass
class Move:
    """What placing one ticket did, for its history and its event."""

    ticket: Ticket
    from_column: Column
    old_position: str
    # The column it entered past the WIP limit, by an admin's override.
    over_limit: Column | None = None
    # The unfinished subtasks of a parent an admin finished anyway (`override_subtasks`).
    open_subtasks: list[int] | None = None

    @property
    def arrived(self) -> bool:
        return self.ticket.column_id != self.from_column.pk

    def diffs(self) -> dict:
        """What the move adds to the ticket's tracked fields' history."""
        extra = {}
        if self.over_limit is not None:
            limit = self.over_limit
            extra["wip_override"] = (None, f"{limit.name} (limit {limit.wip_limit})")
        if self.open_subtasks:
            extra["subtasks_override"] = (None, ", ".join(f"#{pk}" for pk in self.open_subtasks))
        if self.ticket.position != self.old_position:
            extra["position"] = (self.old_position, self.ticket.position)
        return extra

    def payload(self) -> dict:
        """The `ticket_moved` event: the ticket as it is now, and where it came from."""
        return {**ticket_payload(self.ticket), "from_column": self.from_column.name}


def move_tickets(
    *,
    actor,
    tickets: list[Ticket],
    column: str,
    now: datetime,
    position=None,
    override_wip: bool = False,
    override_subtasks: bool = False,
    approval: bool = False,
) -> list[Move]:
    """Place `tickets` (read for write, in the caller's transaction) in the column named
    `column` on each one's board: at `position` (one ticket), else those arriving at the
    bottom in the order given, while those already there stay where they are.

    A column at its WIP limit refuses the arrivals (409 `wip_limit`), unless a board admin
    passes `override_wip`: the tickets that went past the limit are then audited and their
    `Move` says so. A move forward out of a column that requires review, or past one, is
    refused (409 `review_required`) but for an approval (`approval`, which only
    `review.ticket_review` passes)."""
    if position is not None and len(tickets) != 1:
        raise ValueError("A position places one ticket.")
    boards = sorted({ticket.board_id for ticket in tickets})
    if override_wip:
        for board_id in boards:
            require_board(actor, board_id, ADMIN)
    if override_subtasks:
        require_override_rights(actor, boards)
    # Boards in id order, so that two moves lock them in the same order.
    columns_of = {board_id: board_columns(board_id) for board_id in boards}
    targets = {board_id: column_named(columns_of[board_id], column) for board_id in boards}
    moves = [Move(ticket, ticket.column, ticket.position) for ticket in tickets]
    ensure_moves_pass(
        columns_of,
        [
            (move.ticket.pk, move.ticket.board_id, move.from_column, targets[move.ticket.board_id])
            for move in moves
        ],
        approval=approval,
    )
    arriving = defaultdict(list)
    for move in moves:
        target = targets[move.ticket.board_id]
        if target.pk != move.ticket.column_id:
            arriving[target.pk].append(move)
    _refuse_open_subtasks(actor, moves, targets, override=override_subtasks)
    placed = [target for target in targets.values() if arriving[target.pk] or position is not None]
    for target in placed:
        coming = arriving[target.pk]
        lock_column(target, adding=0 if override_wip else len(coming))
        if override_wip and coming:
            _mark_over_limit(target, coming)
    bottoms = last_keys([target.pk for target in placed]) if position is None else {}
    for target in placed:
        coming = arriving[target.pk]
        for move in coming:
            move.ticket.column, move.ticket.column_entered_at = target, now
            note_arrival(move.ticket, target, actor)
            end_claim_when_done(move.ticket)
        if position is None:
            for move, key in zip(
                coming, keys_after(bottoms.get(target.pk), len(coming)), strict=True
            ):
                move.ticket.position = key
        else:
            for move in moves:
                move.ticket.position = position_in(target, position, moving_id=move.ticket.pk)
    _audit_overrides(actor, [move for move in moves if move.over_limit is not None])
    return moves


def announce_arrivals(*, actor, moves: list[Move]) -> None:
    """Tell watchers of the tickets that the finished ones among `moves` unblocked, and
    of the parents whose progress they moved."""
    by_board = defaultdict(list)
    for move in moves:
        if move.arrived:
            by_board[move.ticket.board_id].append(move.ticket.pk)
    for board_id, arrived in sorted(by_board.items()):
        announce_unblocked(actor=actor, board_id=board_id, finished_ids=arrived)
    # A subtask that finished or reopened moved its parent's progress.
    changed = progress_changed((move.ticket, move.from_column.pk) for move in moves if move.arrived)
    for board_id, parent_ids in sorted(changed.items()):
        announce_family(actor=actor, board_id=board_id, ticket_ids=parent_ids)


def _refuse_open_subtasks(actor, moves: list[Move], targets: dict, *, override: bool) -> None:
    """A parent reaches the last column after its subtasks (409 `open_subtasks`), or by a
    board admin's `override_subtasks`, which its `Move` then records."""
    finishing = []
    for move in moves:
        target = targets[move.ticket.board_id]
        if target.pk != move.ticket.column_id and target.pk == move.ticket.last_column_id:
            finishing.append(move.ticket)
    overridden = refuse_open_subtasks(actor=actor, finishing=finishing, override=override)
    for move in moves:
        if move.ticket.pk in overridden:
            move.open_subtasks = overridden[move.ticket.pk].subtask_ids


def _mark_over_limit(target: Column, coming: list[Move]) -> None:
    if target.wip_limit is None:
        return
    present = Ticket.objects.filter(column=target).count()
    for number, move in enumerate(coming):
        if present + number >= target.wip_limit:
            move.over_limit = target


def _audit_overrides(actor, overrides: list[Move]) -> None:
    audit_records(
        actor=actor,
        action="wip.override",
        target_type="ticket",
        records=[
            {
                "board_id": move.ticket.board_id,
                "target_id": move.ticket.pk,
                "details": {
                    "column": move.over_limit.name,
                    "wip_limit": move.over_limit.wip_limit,
                },
            }
            for move in overrides
        ],
    )
