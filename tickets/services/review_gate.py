"""The review gate, part of the one move rule (`moves.move_tickets`, and ticket creation):
a ticket in a column that requires review goes on to a later column only by an approval
(`review.ticket_review`), nor can a ticket jump over such a column, nor start beyond
one. Moving back stays allowed. Every refusal is 409 `review_required`.

Who moved a ticket into the review column it is in is kept on the ticket
(`review_requested_by`): that identity may not review it."""

from collections.abc import Sequence

from boards.models import Column
from core.errors import ReviewRequired


def gate_in_the_way(
    columns: Sequence[Column], source: Column | None, target: Column, *, approval: bool = False
) -> Column | None:
    """The review column a move from `source` (None: a new ticket) to `target` would leave
    forward or skip, if any. `approval` lets the ticket leave `source` itself (an
    approval moves it to the very next column, so it skips nothing)."""
    start = -1 if source is None else source.position
    if target.position <= start:
        return None  # back, or within its column
    for column in columns:
        if not column.requires_review or not start <= column.position < target.position:
            continue
        if approval and source is not None and column.pk == source.pk:
            continue
        return column
    return None


def ensure_moves_pass(
    columns_of: dict[int, Sequence[Column]],
    moves: Sequence[tuple[int, int, Column, Column]],
    *,
    approval: bool = False,
) -> None:
    """Refuse (409 `review_required`, naming every ticket refused) unless each of `moves`
    — (ticket id, board id, from column, to column) — passes the gates of its board's
    `columns_of[board_id]`."""
    refused: list[tuple[int, Column, Column]] = []
    for ticket_id, board_id, source, target in moves:
        gate = gate_in_the_way(columns_of[board_id], source, target, approval=approval)
        if gate is not None:
            refused.append((ticket_id, source, gate))
    if not refused:
        return
    ticket_id, source, gate = refused[0]
    if gate.pk == source.pk:
        message = (
            f"Ticket {ticket_id} waits for review in {gate.name!r}: only an approval moves "
            f"it on (POST /api/tickets/{ticket_id}/review, or the MCP tool review_task). "
            "Moving it back stays allowed."
        )
    else:
        message = (
            f"Ticket {ticket_id} cannot skip the review column {gate.name!r}: move it there "
            "and have it approved."
        )
    if len(refused) > 1:
        message += f" ({len(refused) - 1} more ticket(s) of this move likewise.)"
    raise ReviewRequired(
        message,
        extra={
            "review_column": gate.name,
            "ticket_ids": [ticket_id for ticket_id, _, _ in refused],
        },
    )


def ensure_creatable_in(columns: Sequence[Column], target: Column) -> None:
    """A new ticket starts before the board's first review column, or in it."""
    gate = gate_in_the_way(columns, None, target)
    if gate is not None:
        raise ReviewRequired(
            f"A new ticket cannot start beyond the review column {gate.name!r}: create it "
            f"in {gate.name!r} or before it.",
            extra={"review_column": gate.name},
        )


def note_arrival(ticket, target: Column, actor) -> None:
    """Remember who moved `ticket` into a review column (`target`, where it now arrives),
    and forget it once the ticket is in a column that does not require review."""
    if target.requires_review and getattr(actor, "pk", None):
        ticket.review_requested_by = actor
    else:
        ticket.review_requested_by = None
