from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from agent_kanban.ratelimits import remember_token_user
from agents.models import ApiToken
from agents.services import hash_token, token_touch


def user_for_token(secret: str):
    """The active user behind a bearer token and the token, or (None, None).

    The user is a fresh object on every call and carries the token as `api_token`,
    so the access rules (boards.access) apply the token's limits to whatever it does.
    Never keep it beyond the request or connection it was made for."""
    # Whether the token is limited to some boards comes with the token: most are not,
    # and then no request has to ask for its boards again.
    key_hash = hash_token(secret)
    found = (
        ApiToken.objects.select_related("user")
        .annotate(
            has_board_limits=Exists(
                ApiToken.boards.through.objects.filter(apitoken_id=OuterRef("pk"))
            )
        )
        .filter(key_hash=key_hash, revoked_at__isnull=True)
        .order_by()[:1]
    )
    token = next(iter(found), None)
    if token is None or not token.user.is_active:
        return None, None
    if token.expires_at is not None and token.expires_at <= timezone.now():
        return None, None
    if not token.has_board_limits:
        token._scoped_board_ids = frozenset()
    remember_token_user(key_hash, token.user_id)
    token_touch(token=token, every_seconds=settings.API_TOKEN_TOUCH_SECONDS)
    user = token.user
    user.api_token = token
    return user, token


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>` for agents and scripts."""

    keyword = "bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        try:
            secret = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(
                "The token contains invalid characters."
            ) from None
        user, token = user_for_token(secret)
        if user is None:
            raise exceptions.AuthenticationFailed("The token is unknown, revoked or expired.")
        return user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "agents.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer"}
