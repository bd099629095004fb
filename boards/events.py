import json
import logging

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

from boards import access
from boards.models import Board, BoardEvent
from core import clock, groups, metrics
from core.errors import NotFound

logger = logging.getLogger(__name__)


def event_message(event: BoardEvent) -> dict:
    return {
        "event": event.type,
        "data": event.payload,
        "board_id": event.board_id,
        "seq": event.seq,
        "timestamp": event.created_at.isoformat(),
        "actor": event.actor.username if event.actor else None,
    }


def _broadcast(message: dict) -> None:
    try:
        # The text is made once here rather than once per watcher: with a thousand
        # watchers, encoding the same event a thousand times was a visible share of the
        # fan-out time.
        text = json.dumps(message, cls=DjangoJSONEncoder)
        groups.group_send(
            groups.board_group_name(message["board_id"]),
            {"type": groups.BOARD_EVENT, "message": message, "text": text},
        )
        metrics.event_published(message["event"])
    except Exception:
        metrics.event_published(message["event"], ok=False)
        # The write has committed and the event is in the log: watchers that miss
        # the push catch up by sequence number. Failing the request would lie.
        logger.warning(
            "Could not push event %s of board %s",
            message["seq"],
            message["board_id"],
            exc_info=True,
        )


def event_append(*, board_id: int, type: str, payload: dict, actor) -> BoardEvent:
    """Append to the board's event log inside the caller's transaction, and send the
    event to the board's watchers once (and only if) that transaction commits.

    Bumping the board's counter locks the board row until commit, so sequence
    numbers follow commit order and leave no gaps."""
    seq = _next_seq(board_id)
    event = BoardEvent.objects.create(
        board_id=board_id,
        seq=seq,
        type=type,
        payload=payload,
        actor=actor,
        created_at=clock.now(),
    )
    broadcast_after_commit(event_message(event))
    return event


def events_append(*, board_id: int, events: list[tuple[str, dict]], actor) -> list[BoardEvent]:
    """`event_append` for several (type, payload) events at once, in their order: one
    counter bump and one insert however many there are."""
    last = _next_seq(board_id, by=len(events))
    now = clock.now()
    rows = BoardEvent.objects.bulk_create(
        BoardEvent(
            board_id=board_id,
            seq=last - len(events) + number,
            type=kind,
            payload=payload,
            actor=actor,
            created_at=now,
        )
        for number, (kind, payload) in enumerate(events, start=1)
    )
    for row in rows:
        broadcast_after_commit(event_message(row))
    return rows


def _next_seq(board_id: int, by: int = 1) -> int:
    """Bump the board's counter (by `by`) and read it back in one statement (PostgreSQL
    and SQLite 3.35+ both return the updated row)."""
    table = connection.ops.quote_name(Board._meta.db_table)
    column = connection.ops.quote_name("last_event_seq")
    pk = connection.ops.quote_name(Board._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {column} = {column} + %s WHERE {pk} = %s RETURNING {column}",
            [by, board_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise Board.DoesNotExist(f"Board {board_id} does not exist.")
    return row[0]


def broadcast_after_commit(message: dict) -> None:
    transaction.on_commit(lambda: _broadcast(message))


# ---------------------------------------------------------------- reading the log
# What every surface that catches up reads (WebSocket, server-sent events, MCP): the
# table is the truth, read by sequence number, so nothing is skipped or repeated.

READ_BATCH = 500


def readable_board_last_seq(user, board_id: int) -> int:
    """The board's latest sequence number, when `user` may read the board. The number is
    read before the right to read is asked (afresh), so every event up to it was committed
    while the user could still read the board. Otherwise NotFound, worded as for a missing
    board, so that no caller can answer a board that exists but is not theirs differently
    from one that does not exist."""
    current = board_last_seq(board_id)
    access.forget_roles(user)
    if current is None or not access.can(user, board_id, access.READ):
        raise NotFound(f"Board {board_id} does not exist.", code="board_not_found")
    return current


def board_last_seq(board_id: int) -> int | None:
    """The board's latest sequence number, or None when there is no such board."""
    return Board.objects.filter(pk=board_id).values_list("last_event_seq", flat=True).first()


def boards_last_seq(board_ids: list[int]) -> dict[int, int]:
    """Latest sequence number of each board that still exists, in one query."""
    return dict(Board.objects.filter(pk__in=board_ids).values_list("pk", "last_event_seq"))


def events_after(
    *, board_id: int, after: int, upto: int | None = None, limit: int = READ_BATCH
) -> list[dict]:
    """Up to `limit` event messages with `after < seq <= upto`, oldest first."""
    rows = BoardEvent.objects.filter(board_id=board_id, seq__gt=after)
    if upto is not None:
        rows = rows.filter(seq__lte=upto)
    rows = rows.select_related("actor").order_by("seq")[:limit]
    return [event_message(event) for event in rows]


def events_page(*, board_id: int, since: int, limit: int) -> dict:
    """The events after `since` as a page a client resumes from with `next_since`."""
    if board_last_seq(board_id) is None:
        raise NotFound(f"Board {board_id} does not exist.")
    rows = events_after(board_id=board_id, after=since, limit=limit + 1)
    items = rows[:limit]
    return {
        "items": items,
        "next_since": items[-1]["seq"] if items else since,
        "has_more": len(rows) > limit,
    }
