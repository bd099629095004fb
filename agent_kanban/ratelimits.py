"""Rate limits: the one place that decides which requests count against which limit.

Counters live in the default cache (Redis in production), so every process that
shares it shares the counts. django-ratelimit keeps them: fixed windows, each key's
window ending at its own offset. Rates come from settings and are read on every
request; `RATELIMIT_ENABLE=False` switches every limit off.

Groups (each a separate counter):
- `ip`: every request from one client address (health checks, metrics, static exempt);
- `login`: login attempts, per address and per username tried;
- `write`: POST/PUT/PATCH/DELETE anywhere, and MCP write tool calls, per identity;
- `bulk`: the bulk endpoints, per identity (they count as writes too);
- `ws`: WebSocket connects, per identity (see ws_limits.py).
An identity is the bearer token's user, else the session's user, else the address.
"""

import functools
import ipaddress
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import engines
from django_ratelimit import core as ratelimit_core
from django_ratelimit.core import get_usage
from django_redis.client import DefaultClient

from agent_kanban.errors import error_body

logger = logging.getLogger("agent_kanban.ratelimits")

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
EXEMPT_PATHS = re.compile(r"^/(health/?|api/health(/simple)?/?|metrics/?)$")
LOGIN_PATHS = re.compile(r"^/(login/|api/users/session/?|api-auth/login/|admin/login/)$")
LOGOUT_PATHS = re.compile(r"^/(logout/|api-auth/logout/|admin/logout/)$")
SESSION_PATH = re.compile(r"^/api/users/session/?$")
BULK_PATHS = re.compile(r"^/api/bulk/")

GROUP_NAMES = {
    "ip": "requests from your address",
    "login": "login attempts",
    "write": "writes",
    "bulk": "bulk operations",
    "ws": "WebSocket connections",
}
LIMIT_SETTINGS = (
    "RATELIMIT_PER_IP",
    "RATELIMIT_LOGIN",
    "RATELIMIT_WRITE",
    "RATELIMIT_BULK",
    "RATELIMIT_WS_CONNECT",
)
PERIOD_NAMES = {"s": "second", "m": "minute", "h": "hour", "d": "day"}
USERNAME_MAX = 150


@dataclass(frozen=True)
class Limited:
    """A request over a limit: which one, and how long until its window ends."""

    group: str
    rate: str
    retry_after: int

    @property
    def message(self) -> str:
        count, _, period = self.rate.partition("/")
        multiple, unit = period[:-1], PERIOD_NAMES[period[-1]]
        per = f"{multiple} {unit}s" if multiple else unit
        return (
            f"Too many {GROUP_NAMES.get(self.group, self.group)}: at most {count} per {per}. "
            f"Try again in {self.retry_after} s."
        )


def hit(group: str, key: str, rate: str | None) -> Limited | None:
    """Count one request against `group` for `key`; a Limited when that makes it too
    many. A cache that cannot be reached lets the request through: the limits
    protect the service, an outage of the cache must not take it down."""
    if not rate or not settings.RATELIMIT_ENABLE:
        return None
    try:
        usage = _redis_usage(group, key, rate)
        if usage is None:
            usage = get_usage(None, group=group, key=lambda *_: key, rate=rate, increment=True)
    except Exception:
        logger.warning("Rate limit %s not checked: the cache failed", group, exc_info=True)
        return None
    if usage is None or not usage["should_limit"]:
        return None
    return Limited(group=group, rate=rate, retry_after=max(1, int(usage["time_left"])))


def _redis_usage(group: str, key: str, rate: str) -> dict | None:
    """What get_usage would count, in one Redis round trip instead of two: the same key,
    window and expiry, set if absent and incremented in one pipeline. None when the
    cache is not django-redis (get_usage counts then)."""
    cache = caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")]
    client = getattr(cache, "client", None)
    if not isinstance(client, DefaultClient):
        return None
    limit, period = ratelimit_core._split_rate(rate)
    window = ratelimit_core._get_window(key, period)
    cache_key = client.make_key(
        ratelimit_core._make_cache_key(group, window, rate, key, ratelimit_core.ALL)
    )
    pipeline = client.get_client(write=True).pipeline(transaction=False)
    pipeline.set(cache_key, 0, nx=True, ex=period + ratelimit_core.EXPIRATION_FUDGE)
    pipeline.incr(cache_key)
    count = pipeline.execute()[1]
    return {"count": count, "should_limit": count > limit, "time_left": window - int(time.time())}


def first_limited(checks: Iterator[tuple[str, str, str | None]]) -> Limited | None:
    """Counts each check in turn and stops at the first one over its limit."""
    for group, key, rate in checks:
        limited = hit(group, key, rate)
        if limited is not None:
            return limited
    return None


# ------------------------------------------------------------------ who is asking


@functools.lru_cache(maxsize=16)
def _networks(proxies: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in proxies)


def _trusted(address: str, networks: tuple) -> bool:
    if not address:
        return True  # a Unix socket: the peer is on this machine, the proxy itself
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _bucket(address: str) -> str:
    """One counter per IPv4 address, and per /64 for IPv6 (one subscriber's block)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address or "unknown"
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address)
    return str(ip)


def client_ip(remote_addr: str | None, forwarded_for: str | None) -> str:
    """The client's address: the peer, or — when the peer is one of TRUSTED_PROXIES —
    the right-most X-Forwarded-For hop that is not a trusted proxy. Hops left of that
    are whatever the client chose to send, so they never count."""
    address = (remote_addr or "").strip()
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if networks and forwarded_for and _trusted(address, networks):
        for hop in reversed(forwarded_for.split(",")):
            hop = hop.strip()
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                break  # garbage in the header: keep the last address we could trust
            address = hop
            if not _trusted(hop, networks):
                break
    return _bucket(address)


def request_ip(request: HttpRequest) -> str:
    return client_ip(request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR"))


def bearer_secret(authorization: str | None) -> str | None:
    scheme, _, secret = (authorization or "").strip().partition(" ")
    secret = secret.strip()
    return secret if scheme.lower() == "bearer" and secret else None


def token_user_id(secret: str) -> int | None:
    """The user a token belongs to; whether the token is still good is for
    authentication to say (a bad one is refused there anyway)."""
    from agents.services import hash_token

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
    from agents.models import ApiToken

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
    path, ip = request.path_info, request_ip(request)
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
