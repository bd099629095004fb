import json
import logging

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from boards.models import Board, BoardEvent
from core import groups, metrics

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
        created_at=timezone.now(),
    )
    broadcast_after_commit(event_message(event))
    return event


def events_append(*, board_id: int, events: list[tuple[str, dict]], actor) -> list[BoardEvent]:
    """`event_append` for several (type, payload) events at once, in their order: one
    counter bump and one insert however many there are."""
    last = _next_seq(board_id, by=len(events))
    now = timezone.now()
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
