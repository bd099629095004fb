import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from agents.models import ApiToken, User
from audit.services import audit_record
from boards.access import READ, can, request_token, token_board_ids
from boards.models import Board
from core import groups
from core.errors import Conflict, Forbidden, InvalidInput, NotFound, field_error
from core.identity import is_site_admin
from core.ids import is_id
from core.transactions import retry_once_on_deadlock

TOKEN_PREFIX = "ak_"
MAX_BOARDS_PER_TOKEN = 100


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _owner_of(user: User) -> User:
    """`user` without any token attached: the token's limits come from the request, not
    from the user a token is made for."""
    if request_token(user) is None:
        return user
    return get_user_model().objects.get(pk=user.pk)


def _may_issue_for(actor: User | None, user: User) -> None:
    """People make their own tokens; site admins also make them for agents. An actor of
    None is an operator at the command line, who may do anything."""
    if actor is None:
        return
    acting_token = request_token(actor)
    if acting_token is not None and acting_token.read_only:
        raise Forbidden("A read-only token cannot make tokens.", code="token_read_only")
    if actor.pk == user.pk or (is_site_admin(actor) and user.is_agent):
        return
    raise Forbidden(
        "Only site admins make tokens, and only for agents, for anyone but themselves.",
        code="token_owner_required",
    )


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 100:
        message = "A token needs a name of 1 to 100 characters."
        raise InvalidInput(message, validation_errors=[field_error("name", message)])
    return name


def _clean_expiry(expires_at: datetime | None, limit: datetime | None) -> datetime | None:
    """A token made with a token lives no longer than the token that made it."""
    if expires_at is None:
        return limit
    if timezone.is_naive(expires_at):
        message = "The expiry needs a time zone (UTC offset)."
        raise InvalidInput(message, validation_errors=[field_error("expires_at", message)])
    if expires_at <= timezone.now():
        message = "The expiry must be in the future."
        raise InvalidInput(message, validation_errors=[field_error("expires_at", message)])
    if limit is not None and expires_at > limit:
        message = "A token cannot outlive the token that makes it."
        raise InvalidInput(message, validation_errors=[field_error("expires_at", message)])
    return expires_at


def _clean_boards(owner: User, board_ids: Iterable[int] | None, limit: frozenset[int] | None):
    """The boards to limit the token to: each one the owner may read (and, when made
    with a board-limited token, one of its boards). Ids that fail are not told apart
    from ids that do not exist."""
    ids = list(dict.fromkeys(board_ids or []))
    if not ids:
        return sorted(limit) if limit is not None else []
    if len(ids) > MAX_BOARDS_PER_TOKEN:
        message = f"A token may be limited to at most {MAX_BOARDS_PER_TOKEN} boards."
        raise InvalidInput(message, validation_errors=[field_error("board_ids", message)])
    usable = [board_id for board_id in ids if is_id(board_id)]
    # A site admin may read every board id, whether or not a board has it: ask which exist.
    existing = (
        set(Board.objects.filter(pk__in=usable).values_list("pk", flat=True))
        if owner.is_staff
        else None
    )
    errors = []
    for index, board_id in enumerate(ids):
        if (
            not is_id(board_id)
            or (existing is not None and board_id not in existing)
            or not can(owner, board_id, READ)
            or (limit is not None and board_id not in limit)
        ):
            errors.append(
                field_error(f"board_ids[{index}]", f"No board {board_id!r}.", "not_found")
            )
    if errors:
        raise InvalidInput("Some boards do not exist.", validation_errors=errors)
    return ids


@retry_once_on_deadlock
@transaction.atomic
def token_issue(
    *,
    actor: User | None,
    user: User,
    name: str,
    expires_at: datetime | None = None,
    read_only: bool = False,
    board_ids: Iterable[int] | None = None,
    ip: str | None = None,
) -> IssuedToken:
    """Mint a token for `user`; the returned secret is the only copy there will ever be.
    `actor` None is an operator (a management command). A token-authenticated actor
    makes tokens no stronger than its own: read-only stays read-only, board limits and
    expiry carry over."""
    _may_issue_for(actor, user)
    acting_token = request_token(actor) if actor is not None else None
    name = _clean_name(name)
    expires_at = _clean_expiry(expires_at, acting_token.expires_at if acting_token else None)
    limit = token_board_ids(acting_token) if acting_token is not None else None
    boards = _clean_boards(_owner_of(user), board_ids, limit)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=secret[:10],
        key_hash=hash_token(secret),
        expires_at=expires_at,
        read_only=bool(read_only),
    )
    if boards:
        token.boards.set(boards)
    audit_record(
        actor=actor,
        action="token.created",
        target_type="token",
        target_id=token.pk,
        ip=ip,
        details={
            "owner": user.username,
            "name": token.name,
            "prefix": token.prefix,
            "read_only": token.read_only,
            "board_ids": sorted(boards),
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return IssuedToken(token=token, secret=secret)


def _may_revoke(actor: User | None, token: ApiToken) -> None:
    if actor is None:
        return
    if actor.pk != token.user_id and not is_site_admin(actor):
        # Someone else's token does not exist as far as they can tell.
        raise NotFound(f"Token {token.pk} does not exist.")
    acting_token = request_token(actor)
    if acting_token is not None and acting_token.read_only and acting_token.pk != token.pk:
        raise Forbidden("A read-only token cannot revoke other tokens.", code="token_read_only")


@retry_once_on_deadlock
@transaction.atomic
def token_revoke(*, actor: User | None, token: ApiToken, ip: str | None = None) -> ApiToken:
    """Revoke `token` (the owner, a site admin, or an operator with actor None). Once
    committed, its open WebSocket connections are closed and its MCP sessions ended.
    Revoking a revoked token changes nothing and records nothing."""
    _may_revoke(actor, token)
    locked = ApiToken.objects.select_for_update().get(pk=token.pk)
    if locked.revoked_at is not None:
        token.revoked_at = locked.revoked_at
        return token
    token.revoked_at = timezone.now()
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=token.revoked_at)
    audit_record(
        actor=actor,
        action="token.revoked",
        target_type="token",
        target_id=token.pk,
        ip=ip,
        details={"owner_id": token.user_id, "name": token.name, "prefix": token.prefix},
    )
    token_id = token.pk
    groups.announce_on_commit(
        groups.token_group_name(token_id), {"type": groups.TOKEN_REVOKED, "token_id": token_id}
    )
    return token


def token_touch(*, token: ApiToken, every_seconds: int) -> None:
    """Record use, at most once per `every_seconds`, so reads do not turn into writes."""
    now = timezone.now()
    if token.last_used_at and (now - token.last_used_at).total_seconds() < every_seconds:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


def usable_tokens() -> QuerySet[ApiToken]:
    """The tokens that still authenticate: not revoked, not expired, their user active."""
    return ApiToken.objects.filter(revoked_at__isnull=True, user__is_active=True).exclude(
        expires_at__lte=timezone.now()
    )


def token_is_usable(*, token_id: int) -> bool:
    """Whether the token still authenticates (`usable_tokens`)."""
    return usable_tokens().filter(pk=token_id).exists()


@retry_once_on_deadlock
def agent_create(
    *, username: str, token_name: str = "default", actor: User | None = None
) -> IssuedToken:
    """A new agent identity with its first token. `actor` None is an operator; otherwise
    only a site admin may make agents."""
    if actor is not None and not is_site_admin(actor):
        raise Forbidden("Only site admins create agents.", code="site_admin_required")
    username = username.strip()
    if not username:
        raise InvalidInput("An agent needs a name.")
    user_model = get_user_model()
    with transaction.atomic():
        if user_model.objects.filter(username=username).exists():
            raise Conflict(f"A user named {username!r} already exists.")
        agent = user_model(username=username, is_agent=True)
        agent.set_unusable_password()
        agent.full_clean(exclude=["password"])
        agent.save()
        return token_issue(actor=actor, user=agent, name=token_name)


def user_get_by_username(*, username: str) -> User:
    try:
        return get_user_model().objects.get(username=username)
    except get_user_model().DoesNotExist:
        raise NotFound(f"No user named {username!r}.") from None
