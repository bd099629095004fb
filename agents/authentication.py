from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from agents.ratelimits import remember_token_user
from agents.services import hash_token, token_touch
from agents.token_lookup import usable_token_with_user
from core.http import bearer_secret


def user_for_token(secret: str):
    """The active user behind a bearer token and the token, or (None, None).

    The user is a fresh object on every call and carries the token as `api_token`,
    so the access rules (boards.access) apply the token's limits to whatever it does.
    Never keep it beyond the request or connection it was made for."""
    # Whether the token is limited to some boards comes with the token: most are not,
    # and then no request has to ask for its boards again.
    key_hash = hash_token(secret)
    token = usable_token_with_user(key_hash, timezone.now())
    if token is None:
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

    def authenticate(self, request):
        secret = bearer_secret(request.META.get("HTTP_AUTHORIZATION"))
        if secret is None:
            return None  # no bearer credentials: another authenticator may know them
        if not secret:
            raise exceptions.AuthenticationFailed(
                "Authorization header must be 'Bearer <token>', the token in ASCII."
            )
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
