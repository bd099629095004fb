"""Where a ticket goes: columns by name, WIP limits, and positions (fractional index
keys) within a column."""

from django.db.models import Max

from boards.events import event_append
from boards.models import Board, Column
from core.errors import Conflict, InvalidInput, field_error
from tickets import rules
from tickets.models import Ticket
from tickets.ordering import key_between


def board_columns(board_id: int) -> list[Column]:
    return list(Column.objects.filter(board_id=board_id).order_by("position"))


def column_by_name(*, board_id: int, name) -> Column:
    return column_named(board_columns(board_id), name)


def column_named(columns: list[Column], name) -> Column:
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


# ---------------------------------------------------------------- WIP limits


def lock_column(column: Column, adding: int = 0) -> None:
    """Lock the column's board, then the column, and re-read the column's WIP limit;
    refuse if `adding` more tickets would pass it.

    Positions in a column are handed out one writer at a time (SQLite's IMMEDIATE
    transactions already serialise writers; this does it on PostgreSQL). The board goes
    first because boards.services.board_set_columns locks the board, then its columns:
    one order everywhere, so a column edit and a ticket write never deadlock."""
    list(Board.objects.select_for_update(no_key=True).filter(pk=column.board_id).values_list("pk"))
    limits = list(
        Column.objects.select_for_update(no_key=True)
        .filter(pk=column.pk)
        .values_list("wip_limit", flat=True)
    )
    if not limits:
        raise Conflict(f"Column {column.name!r} was just removed.", code="column_removed")
    column.wip_limit = limits[0]
    _ensure_room(column, adding)


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


# ---------------------------------------------------------------- placing tickets


def end_claim_when_done(ticket: Ticket) -> None:
    """A ticket that reaches the board's last column is finished: its claim ends."""
    if ticket.column_id == ticket.last_column_id and ticket.claimed_by_id:
        ticket.claimed_by, ticket.claimed_at, ticket.lease_expires_at = None, None, None
        ticket.claim_token = None


def last_keys(column_ids: list[int]) -> dict[int, str]:
    """The last position key of each of the columns that has a ticket (one query)."""
    return dict(
        Ticket.objects.filter(column__in=column_ids)
        .values_list("column_id")
        .annotate(last=Max("position"))
    )


def position_in(column: Column, position, moving_id: int | None = None) -> str:
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
