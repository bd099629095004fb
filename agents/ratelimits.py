"""Which requests count against which limit, per identity: the bearer token's user, else
the signed-in user, else the address. The counting itself is `core.ratelimits`."""

import functools
import json
from collections.abc import Callable, Iterator

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import engines

from agents.models import ApiToken
from agents.services import hash_token
from core.errors import error_body
from core.http import UNKNOWN_ADDRESS, bearer_secret, request_ip
from core.ratelimits import (
    BULK_PATHS,
    EXEMPT_PATHS,
    LOGIN_PATHS,
    LOGOUT_PATHS,
    SESSION_PATH,
    UNSAFE_METHODS,
    USERNAME_MAX,
    Limited,
    first_limited,
)


def token_user_id(secret: str) -> int | None:
    """The user a token belongs to; whether the token is still good is for
    authentication to say (a bad one is refused there anyway)."""
    key_hash = hash_token(secret)
    user_id = _TOKEN_USERS.get(key_hash)
    if user_id is None:
        user_id = _token_user_id(key_hash)
        if user_id is not None:
            remember_token_user(key_hash, user_id)
    return user_id


def remember_token_user(key_hash: str, user_id: int) -> None:
    """Note whose token this is (authentication tells, having read the token anyway).
    A token never changes hands, so what is known stays true; unknown secrets are not
    remembered (anyone can send any number of them)."""
    _TOKEN_USERS[key_hash] = user_id
    while len(_TOKEN_USERS) > TOKEN_USERS_MAX:
        del _TOKEN_USERS[next(iter(_TOKEN_USERS))]


def _token_user_id(key_hash: str) -> int | None:
    return ApiToken.objects.filter(key_hash=key_hash).values_list("user_id", flat=True).first()


# The user behind each recently seen token hash, oldest first: writes count per user,
# and looking the user up was one database query on every write.
TOKEN_USERS_MAX = 4096
_TOKEN_USERS: dict[str, int] = {}


def identity_key(secret: str | None, user, ip: str) -> str:
    """The bearer token's user, else the signed-in user, else the address."""
    if secret:
        user_id = token_user_id(secret)
        return f"user:{user_id}" if user_id else f"ip:{ip}"
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{ip}"


def _attempted_username(request: HttpRequest) -> str:
    """The username a login request tries. Too large a body is left to the view to
    refuse (Django checks its length before reading it); one Django cannot parse
    raises here as it would in the view (a 400); other bodies have no username."""
    try:
        if request.content_type == "application/json":
            try:
                data = json.loads(request.body or b"{}")
            except (ValueError, RecursionError):
                return ""
            name = data.get("username") if isinstance(data, dict) else None
        else:
            name = request.POST.get("username")
    except RequestDataTooBig:
        return ""
    return name.strip().lower()[:USERNAME_MAX] if isinstance(name, str) else ""


# ------------------------------------------------------------------ HTTP requests


def request_checks(request: HttpRequest) -> Iterator[tuple[str, str, str | None]]:
    """(group, key, rate) for each limit this request counts against, in order."""
    path, ip = request.path_info, request_ip(request) or UNKNOWN_ADDRESS
    if not EXEMPT_PATHS.match(path) and not path.startswith(settings.STATIC_URL):
        yield "ip", f"ip:{ip}", settings.RATELIMIT_PER_IP
    if request.method not in UNSAFE_METHODS or LOGOUT_PATHS.match(path):
        return
    if LOGIN_PATHS.match(path):
        if SESSION_PATH.match(path) and request.method != "POST":
            return  # DELETE there logs out
        yield "login", f"ip:{ip}", settings.RATELIMIT_LOGIN
        username = _attempted_username(request) if settings.RATELIMIT_LOGIN else ""
        if username:
            yield "login", f"username:{username}", settings.RATELIMIT_LOGIN
        return
    bulk_rate = settings.RATELIMIT_BULK if BULK_PATHS.match(path) else None
    if not (bulk_rate or settings.RATELIMIT_WRITE):
        return  # no identity to look up
    identity = identity_key(
        bearer_secret(request.META.get("HTTP_AUTHORIZATION")), getattr(request, "user", None), ip
    )
    if bulk_rate:
        yield "bulk", identity, bulk_rate
    yield "write", identity, settings.RATELIMIT_WRITE


PAGE_TEMPLATE = """{% extends "base.html" %}
{% block title %}Too many requests · Agent Kanban{% endblock %}
{% block main_class %}page narrow-page{% endblock %}
{% block content %}
<section class="login-card">
  <h1>Slow down a little</h1>
  <div class="flash error" role="alert">{{ message }}</div>
  <p><a class="btn" href="{{ back }}">Back</a></p>
</section>
{% endblock %}"""


@functools.cache
def _page_template():
    return engines["django"].from_string(PAGE_TEMPLATE)


def too_many_requests(request: HttpRequest, limited: Limited) -> HttpResponse:
    """429: the error envelope with `retry_after` for the API, a page for people."""
    if request.path_info.startswith("/api/") or "json" in request.headers.get("Accept", ""):
        body = error_body(limited.message, "rate_limited", retry_after=limited.retry_after)
        response: HttpResponse = JsonResponse(body, status=429)
    else:
        back = "/login/" if LOGIN_PATHS.match(request.path_info) else request.path_info
        context = {"message": limited.message, "back": back}
        response = HttpResponse(_page_template().render(context, request), status=429)
    response["Retry-After"] = str(limited.retry_after)
    return response


class RateLimitMiddleware:
    """Counts each request against its limits before the view runs (and before CSRF's
    check, which is in process_view), and answers 429 when one is over."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.RATELIMIT_ENABLE:
            limited = first_limited(request_checks(request))
            if limited is not None:
                return too_many_requests(request, limited)
        return self.get_response(request)
