"""What the live surfaces (WebSocket, server-sent events) share: who may watch a board,
reading the event log after a sequence number, input parsing, and this process's
connection counts. Everything here is synchronous; async callers wrap it in
`database_sync_to_async`."""

import hashlib
from dataclasses import asdict, dataclass
from importlib import import_module

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.utils.crypto import constant_time_compare

from agent_kanban.errors import InvalidInput, NotFound, field_error
from boards import access
from boards.models import Board
from history.models import BoardEvent
from history.services import event_message

ID_MAX = 2**63 - 1
READ_BATCH = 500


def user_group_name(user_id: int) -> str:
    """The Channels group of every WebSocket connection of one user: told when what the
    user may read may have shrunk (`history.access_push`)."""
    return f"user-{user_id}"


def session_group_name(session_key: str) -> str:
    """The Channels group of the WebSocket connections opened with one session: told when
    it signs out (`history.access_push`). Named from a hash of the key, because the key
    is a credential and group names are visible in Redis."""
    return f"session-{hashlib.sha256(session_key.encode()).hexdigest()[:32]}"


def session_valid(user, *, session_key: str, opened_hash: str) -> bool:
    """Whether the session a connection was opened with still signs `user` in, asked
    afresh as `django.contrib.auth.get_user` asks (two queries with the database session
    engine): the session still exists and has not expired, still names the user, and its
    auth hash, like the one the connection was opened with, is still the user's — a
    password change, an expiry or a sign-out ends it."""
    data = import_module(settings.SESSION_ENGINE).SessionStore(session_key).load()
    if data.get(SESSION_KEY) != user._meta.pk.value_to_string(user):
        return False
    fresh = get_user_model()._default_manager.filter(pk=user.pk).only("password").first()
    if fresh is None:
        return False
    current = fresh.get_session_auth_hash()
    stored = data.get(HASH_SESSION_KEY) or ""
    return constant_time_compare(stored, current) and constant_time_compare(opened_hash, current)


def account_active(user) -> bool:
    """Whether the account is still switched on (and still exists), asked afresh in one
    query. The roles remembered on `user` are forgotten too, so that the next check of a
    board asks the database."""
    try:
        user.refresh_from_db(fields=["is_active", "is_staff"])
    except ObjectDoesNotExist:
        return False
    access.forget_roles(user)
    return user.is_active


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


def boards_readable(user, board_ids: list[int]) -> set[int]:
    """Which of the boards `user`, as it stands, may read (one query)."""
    if not board_ids:
        return set()
    readable = access.readable_boards(Board.objects.filter(pk__in=board_ids), user)
    return set(readable.values_list("pk", flat=True))


def boards_still_readable(user, board_ids: list[int]) -> set[int]:
    """Which of the boards `user` may still read, asked afresh (two queries): a member
    removed or demoted while watching, or an account switched off or deleted, reads none."""
    if not board_ids or not account_active(user):
        return set()
    return boards_readable(user, board_ids)


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
