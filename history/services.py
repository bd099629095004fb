import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from agent_kanban import metrics
from boards.models import Board
from history.models import BoardEvent

logger = logging.getLogger(__name__)


def board_group_name(board_id: int) -> str:
    """The Channels group of everyone watching one board."""
    return f"board-{board_id}"


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
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            board_group_name(message["board_id"]), {"type": "board.event", "message": message}
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
    Board.objects.filter(pk=board_id).update(last_event_seq=F("last_event_seq") + 1)
    seq = Board.objects.filter(pk=board_id).values_list("last_event_seq", flat=True).get()
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


def broadcast_after_commit(message: dict) -> None:
    transaction.on_commit(lambda: _broadcast(message))
