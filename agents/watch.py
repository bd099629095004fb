"""May this connection still watch? The one answer for every long-lived connection (the
board WebSocket, the server-sent event stream), asked at connect, when access changes,
and once a heartbeat: the account is still switched on, the token it signed in with is
still usable, the session it signed in with still signs the user in, and the user may
still read the board. Everything here is synchronous and asks the database afresh;
async callers wrap it in `database_sync_to_async`."""

from dataclasses import dataclass
from importlib import import_module

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.utils.crypto import constant_time_compare

from agents.models import User
from agents.services import token_is_usable
from boards import access
from boards.models import Board
from core import groups

# Why a connection may no longer watch; the WebSocket sends these as its error codes.
ACCOUNT_INACTIVE = "account_inactive"
SESSION_ENDED = "session_ended"
TOKEN_REVOKED = "token_revoked"


@dataclass(frozen=True)
class Watcher:
    """Who is on a connection, as it was opened: the user, and the API token or the
    session (its key and the auth hash it held then) the user signed in with."""

    user: User
    token_id: int | None = None
    session_key: str | None = None
    session_hash: str = ""

    def groups(self) -> list[str]:
        """The channel-layer groups told when this watch may have ended: the user's (what
        they may read changed), the token's (revoked), the session's (signed out)."""
        names = [groups.user_group_name(self.user.pk)]
        if self.token_id is not None:
            names.append(groups.token_group_name(self.token_id))
        if self.session_key is not None:
            names.append(groups.session_group_name(self.session_key))
        return names


def why_watch_ends(watcher: Watcher) -> str | None:
    """None while the connection may go on, else why not. The account is asked first: a
    switched-off account fails its token too, and is the reason to tell."""
    if not account_active(watcher.user):
        return ACCOUNT_INACTIVE
    if watcher.session_key is not None and not session_valid(
        watcher.user, session_key=watcher.session_key, opened_hash=watcher.session_hash
    ):
        return SESSION_ENDED
    if watcher.token_id is not None and not token_is_usable(token_id=watcher.token_id):
        return TOKEN_REVOKED
    return None


def may_still_watch(watcher: Watcher, board_id: int) -> bool:
    """Whether the connection may still watch the board: `why_watch_ends` has no reason,
    and the user may still read it."""
    return why_watch_ends(watcher) is None and board_id in boards_readable(watcher.user, [board_id])


def account_active(user: User) -> bool:
    """Whether the account is still switched on (and still exists), asked afresh in one
    query. The roles remembered on `user` are forgotten too, so that the next check of a
    board asks the database."""
    try:
        user.refresh_from_db(fields=["is_active", "is_staff"])
    except ObjectDoesNotExist:
        return False
    access.forget_roles(user)
    return user.is_active


def session_valid(user: User, *, session_key: str, opened_hash: str) -> bool:
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


def boards_readable(user: User, board_ids: list[int]) -> set[int]:
    """Which of the boards `user`, as it stands, may read (one query)."""
    if not board_ids:
        return set()
    readable = access.readable_boards(Board.objects.filter(pk__in=board_ids), user)
    return set(readable.values_list("pk", flat=True))
