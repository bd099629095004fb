"""What the live surfaces (WebSocket, server-sent events) share: reading the event log
after a sequence number, input parsing, and this process's connection counts. Whether a
connection may still watch is `agents.watch`. Everything here is synchronous; async
callers wrap it in `database_sync_to_async`."""

from dataclasses import asdict, dataclass

from django.conf import settings

from boards import access
from boards.events import event_message
from boards.models import Board, BoardEvent
from core.errors import InvalidInput, NotFound, field_error
from core.ids import ID_MAX

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


def parse_int(value, field: str, *, minimum: int, maximum: int = ID_MAX) -> int:
    """A whole number given as a number or as digits (query strings, JSON alike)."""
    text = value.strip() if isinstance(value, str) else ""
    # ASCII digits only, and few enough of them for int() to take.
    if 0 < len(text) <= 20 and text.isascii() and text.lstrip("-").isdecimal():
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int):
        message = "Must be a whole number."
        raise InvalidInput(f"{field}: {message}", validation_errors=[field_error(field, message)])
    if not minimum <= value <= maximum:
        message = f"Must be between {minimum} and {maximum}."
        raise InvalidInput(f"{field}: {message}", validation_errors=[field_error(field, message)])
    return value


def parse_optional_int(value, field: str, *, minimum: int, maximum: int = ID_MAX) -> int | None:
    if value is None or value == "":
        return None
    return parse_int(value, field, minimum=minimum, maximum=maximum)


@dataclass
class ConnectionCounter:
    """WebSocket connections of this process. Each daphne process counts its own: the
    cap protects the process, and health reports what the answering process holds."""

    open: int = 0
    opened_total: int = 0
    refused_over_cap: int = 0
    closed_silent: int = 0

    def try_open(self) -> bool:
        if self.open >= settings.WS_MAX_CONNECTIONS:
            self.refused_over_cap += 1
            return False
        self.open += 1
        self.opened_total += 1
        return True

    def release(self) -> None:
        self.open -= 1

    def stats(self) -> dict:
        return {**asdict(self), "max_connections": settings.WS_MAX_CONNECTIONS}


# One per process; consumers all run on the process's one event loop, so plain
# integers are enough.
connections = ConnectionCounter()


def connection_stats() -> dict:
    return connections.stats()
