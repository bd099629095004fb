"""Outages of a dependency (Redis): logged once when one starts and once when it ends,
and counted (`agent_kanban_dependency_outages_total{dependency="redis"}`), however many
requests meet it. Without this, every request that found Redis down wrote a traceback of
its own (the rate limiter's, the event push's, the statistics cache's): thousands a
minute, burying everything else.

Who meets a failure reports it: `REDIS.failed(error)` (the rate limiter does), or logs it
as usual with the exception attached; `OutageLogFilter`, on the log handler
(settings.LOGGING), turns such a record into that report instead of a line. The end of
an outage is seen by the next Redis call that succeeds (`REDIS.succeeded()`, the rate
limiter's on every request) or, when nothing else asks, by a ping once a second.

Stdlib and redis-py only at import: LOGGING loads this module before the apps."""

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

PROBE_SECONDS = 1.0
HEALTH_PATHS = ("/api/health", "/health")


class Dependency:
    """Up or down, as last seen by this process. Thread-safe: every request thread and
    the event loop report to the same one."""

    def __init__(self, name: str, probe: Callable[[], bool | None] | None = None) -> None:
        self.name = name
        # True when the dependency answers, None when it cannot be asked (then only a
        # call that works ends the outage); no probe: no probing.
        self._probe = probe
        self._lock = threading.Lock()
        self._down_since: float | None = None

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def failed(self, error: BaseException) -> None:
        """A call to the dependency failed. Logs and counts only the first failure of
        an outage."""
        with self._lock:
            if self._down_since is not None:
                return
            self._down_since = time.monotonic()
        _count_outage(self.name)
        logger.warning("%s unavailable: %s", self.name, _describe(error))
        if self._probe is not None:
            threading.Thread(target=self._watch, name=f"{self.name}-probe", daemon=True).start()

    def succeeded(self) -> None:
        """A call to the dependency worked: the end of an outage, if one was on."""
        if self._down_since is None:  # the common case, without the lock
            return
        with self._lock:
            if self._down_since is None:
                return
            seconds = time.monotonic() - self._down_since
            self._down_since = None
        logger.info("%s available again after %.1f s", self.name, seconds)

    def _watch(self) -> None:
        while self.down:
            time.sleep(PROBE_SECONDS)
            try:
                answered = self._probe()
            except Exception:
                answered = False
            if answered is None:
                return
            if answered:
                self.succeeded()


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _count_outage(name: str) -> None:
    from core import metrics  # Django's settings must be loaded first

    metrics.dependency_outage(name)


def _ping_redis() -> bool | None:
    import redis
    from django.conf import settings

    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return None
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return bool(client.ping())
    finally:
        client.close()


REDIS = Dependency("redis", probe=_ping_redis)


def is_redis_failure(error: BaseException | None) -> bool:
    """Whether `error`, or an exception it was raised from, is Redis not answering
    (refused, reset, timed out), as opposed to a bug in what was asked of it."""
    from django_redis.exceptions import ConnectionInterrupted
    from redis.exceptions import ConnectionError, TimeoutError

    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, ConnectionError | TimeoutError | ConnectionInterrupted):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


class OutageLogFilter(logging.Filter):
    """On the log handler: a warning (or less) carrying a Redis connection failure is
    reported to `REDIS` instead of written, and the comprehensive health check's 503
    during a Redis outage already logged is not written again on each probe. Errors
    (unhandled exceptions) are always written."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.WARNING and record.exc_info:
            error = record.exc_info[1]
            if is_redis_failure(error):
                REDIS.failed(error)
                return False
        if record.name == "django.request" and REDIS.down:
            request = getattr(record, "request", None)
            path = getattr(request, "path", "")
            if getattr(record, "status_code", None) == 503 and path.startswith(HEALTH_PATHS):
                return False
        return True
