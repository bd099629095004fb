"""Reads of API tokens: people see their own; site admins see everyone's."""

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone

from agents.models import ApiToken, User
from core.errors import NotFound
from core.identity import is_site_admin


def token_status(token: ApiToken) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= timezone.now():
        return "expired"
    return "active"


def _tokens() -> QuerySet[ApiToken]:
    return (
        ApiToken.objects.select_related("user")
        .prefetch_related("boards")
        .order_by("-created_at", "-id")
    )


def token_owner(*, actor: User, username: str | None) -> User:
    """Whose tokens `actor` asks about: themselves, or (site admins only) anyone."""
    if not username or username == actor.username:
        return actor
    if is_site_admin(actor):
        owner = get_user_model().objects.filter(username=username).first()
        if owner is not None:
            return owner
    raise NotFound(f"No user named {username!r}.")


def token_list(*, actor: User, owner: User) -> QuerySet[ApiToken]:
    if owner.pk != actor.pk and not is_site_admin(actor):
        raise NotFound(f"No user named {owner.username!r}.")
    return _tokens().filter(user=owner)


def token_get(*, actor: User, token_id: int) -> ApiToken:
    """A token of `actor`'s own, or any token for a site admin; NotFound otherwise."""
    tokens = _tokens()
    if not is_site_admin(actor):
        tokens = tokens.filter(user_id=actor.pk)
    token = tokens.filter(pk=token_id).first()
    if token is None:
        raise NotFound(f"Token {token_id} does not exist.")
    return token


def token_owner_choices(*, actor: User) -> list[User]:
    """Whom `actor` may make tokens for: themselves and, for site admins, every agent."""
    if not is_site_admin(actor):
        return [actor]
    agents = get_user_model().objects.filter(is_agent=True, is_active=True).order_by("username")
    return [actor, *agents.exclude(pk=actor.pk)]
