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
- `ws`: WebSocket connects, per identity (`live.limits`).
An identity is the bearer token's user, else the session's user, else the address
(`agents.ratelimits`, which also holds the middleware that counts each request).
"""

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django_ratelimit.core import get_usage
from django_redis.client import DefaultClient

from core.outages import REDIS, is_redis_failure
from core.ratelimit_keys import counter

logger = logging.getLogger(__name__)

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
    protect the service, an outage of the cache must not take it down. Redis being
    down is logged once for the whole outage (core.outages), not once per request."""
    if not rate or not settings.RATELIMIT_ENABLE:
        return None
    try:
        usage = _redis_usage(group, key, rate)
        if usage is None:
            usage = get_usage(None, group=group, key=lambda *_: key, rate=rate, increment=True)
        else:
            REDIS.succeeded()
    except Exception as error:
        if is_redis_failure(error):
            REDIS.failed(error)
        else:
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
    found = counter(group, key, rate)
    cache_key = client.make_key(found.key)
    pipeline = client.get_client(write=True).pipeline(transaction=False)
    pipeline.set(cache_key, 0, nx=True, ex=found.expiry_seconds)
    pipeline.incr(cache_key)
    count = pipeline.execute()[1]
    return {
        "count": count,
        "should_limit": count > found.limit,
        "time_left": found.window_ends - int(time.time()),
    }


def first_limited(checks: Iterator[tuple[str, str, str | None]]) -> Limited | None:
    """Counts each check in turn and stops at the first one over its limit."""
    for group, key, rate in checks:
        limited = hit(group, key, rate)
        if limited is not None:
            return limited
    return None
