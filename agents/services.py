import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from agent_kanban.errors import Conflict, InvalidInput, NotFound
from agents.models import ApiToken, User

TOKEN_PREFIX = "ak_"


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_issue(*, user: User, name: str, expires_at: datetime | None = None) -> IssuedToken:
    """Mint a token for `user`; the returned secret is the only copy there will ever be."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("A token needs a name of 1 to 100 characters.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=secret[:10], key_hash=hash_token(secret), expires_at=expires_at
    )
    return IssuedToken(token=token, secret=secret)


def token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def token_touch(*, token: ApiToken, every_seconds: int) -> None:
    """Record use, at most once per `every_seconds`, so reads do not turn into writes."""
    now = timezone.now()
    if token.last_used_at and (now - token.last_used_at).total_seconds() < every_seconds:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


def agent_create(*, username: str, token_name: str = "default") -> IssuedToken:
    """A new agent identity with its first token."""
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
        return token_issue(user=agent, name=token_name)


def user_get_by_username(*, username: str) -> User:
    try:
        return get_user_model().objects.get(username=username)
    except get_user_model().DoesNotExist:
        raise NotFound(f"No user named {username!r}.") from None
