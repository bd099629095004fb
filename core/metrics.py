"""Prometheus metrics: what is counted, the middleware and WebSocket wrapper that count
requests and connections, and the /metrics endpoint.

One process (the embedded shape) keeps its figures in memory. Several processes
(gunicorn workers, two daphne instances) share them through files when every process
gets the same PROMETHEUS_MULTIPROC_DIR: whichever process answers /metrics reports the
sum over all of them. The variable must be in the environment before the process
starts (prometheus_client reads it on import)."""

import functools
import glob
import hmac
import ipaddress
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse

from core.errors import Conflict, DomainError, json_error
from core.http import bearer_secret
from core.routes import route_of

MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
if MULTIPROC_DIR:
    # The files are opened as the first metric is made, just below.
    os.makedirs(MULTIPROC_DIR, exist_ok=True)

from prometheus_client import (  # noqa: E402
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4  # noqa: E402

# A `_created` series beside every counter would double the output for nothing.
disable_created_metrics()
PREFIX = "agent_kanban"

HTTP_REQUESTS = Counter(
    f"{PREFIX}_http_requests",
    "HTTP requests answered, by route pattern, method and status class.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    f"{PREFIX}_http_request_duration_seconds",
    "Time to the response (to its headers, for a stream), by route pattern and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WS_OPEN = Gauge(
    f"{PREFIX}_websocket_connections",
    "WebSocket connections open now (accepted and not yet ended).",
    multiprocess_mode="livesum",
)
WS_CONNECTS = Counter(f"{PREFIX}_websocket_connects", "WebSocket connections accepted.")
WS_CLOSES = Counter(
    f"{PREFIX}_websocket_server_closes",
    "WebSocket connections the server closed, by close code (4401, 4429 … are refusals).",
    ["code"],
)
EVENTS_PUBLISHED = Counter(
    f"{PREFIX}_board_events_published",
    "Board events pushed to the channel layer after commit, by event type.",
    ["type"],
)
EVENT_PUSH_FAILURES = Counter(
    f"{PREFIX}_board_event_push_failures",
    "Board events the channel layer refused (watchers catch up from the log).",
)
SSE_LOG_READS = Counter(
    f"{PREFIX}_sse_log_reads",
    "Reads of a board's last event number by the event streams of this process (a poll "
    "read serves every stream of the board that polls within half a poll interval).",
)
CLAIMS_WON = Counter(f"{PREFIX}_claims_won", "Claims won, by kind (claim, next).", ["kind"])
CLAIMS_REFUSED = Counter(
    f"{PREFIX}_claims_refused",
    "Claims refused, by kind and reason (claimed, blocked, busy, nothing_to_claim …).",
    ["kind", "reason"],
)
CACHE_LOOKUPS = Counter(
    f"{PREFIX}_cache_lookups",
    "Cache lookups by cache and result (hit, miss, error).",
    ["cache", "result"],
)
DATABASE_BUSY = Counter(
    f"{PREFIX}_database_busy",
    "Answers 503 database_busy (no database connection in time), by surface (rest, page, mcp).",
    ["surface"],
)
DATABASE_RETRIES = Counter(
    f"{PREFIX}_database_retries",
    "Writes the database broke off (deadlock, serialization failure) and tried once more, "
    "by outcome of the second try (ok, failed: answered 503).",
    ["outcome"],
)
DEPENDENCY_OUTAGES = Counter(
    f"{PREFIX}_dependency_outages",
    "Outages of a dependency (redis) this process met: one from the first failed call to "
    "the first that worked again (core.outages).",
    ["dependency"],
)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


# ---------------------------------------------------------------- HTTP


def observe_request(request: HttpRequest, response: HttpResponse, seconds: float) -> None:
    route = route_of(request)
    method = request.method if request.method in METHODS else "other"
    HTTP_REQUESTS.labels(route, method, f"{response.status_code // 100}xx").inc()
    HTTP_DURATION.labels(route, method).observe(seconds)
    if getattr(response, "database_busy", False):
        database_busy("rest" if request.path.startswith("/api/") else "page")


class MetricsMiddleware:
    """Counts and times every request Django answers (not the MCP mount, not static
    files). Sync and async, so that daphne's requests take no thread hop for it."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        if not settings.METRICS_ENABLED:
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self.__acall__(request)
        started = time.perf_counter()
        response = self.get_response(request)
        observe_request(request, response, time.perf_counter() - started)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = await self.get_response(request)
        observe_request(request, response, time.perf_counter() - started)
        return response


# ---------------------------------------------------------------- WebSocket


def track_websockets(app: Callable) -> Callable:
    """Wrap the ASGI websocket application: a connection counts as open from its
    accept until the application instance ends, however it ends."""

    async def tracked(scope: dict, receive: Callable, send: Callable) -> Any:
        accepted = False

        async def counting_send(message: dict) -> None:
            nonlocal accepted
            kind = message.get("type")
            if kind == "websocket.accept" and not accepted:
                accepted = True
                WS_OPEN.inc()
                WS_CONNECTS.inc()
            elif kind == "websocket.close":
                WS_CLOSES.labels(str(message.get("code") or 1000)).inc()
            await send(message)

        try:
            return await app(scope, receive, counting_send)
        finally:
            if accepted:
                WS_OPEN.dec()

    return tracked


# ---------------------------------------------------------------- domain counters


def event_published(event_type: str, *, ok: bool = True) -> None:
    if ok:
        EVENTS_PUBLISHED.labels(event_type).inc()
    else:
        EVENT_PUSH_FAILURES.inc()


def database_busy(surface: str) -> None:
    DATABASE_BUSY.labels(surface).inc()


def database_retry(outcome: str) -> None:
    DATABASE_RETRIES.labels(outcome).inc()


def dependency_outage(dependency: str) -> None:
    DEPENDENCY_OUTAGES.labels(dependency).inc()


def cache_lookup(cache: str, result: str) -> None:
    """`result`: hit, miss or error."""
    CACHE_LOOKUPS.labels(cache, result).inc()


def counts_claims(kind: str) -> Callable:
    """Decorate a claim service: a return is a claim won; a Conflict (or nothing to
    claim) a claim refused, by its code. Bad input and access errors are neither."""

    def decorate(service: Callable) -> Callable:
        @functools.wraps(service)
        def counted(*args: Any, **kwargs: Any) -> Any:
            try:
                result = service(*args, **kwargs)
            except DomainError as error:
                if isinstance(error, Conflict) or error.code == "nothing_to_claim":
                    CLAIMS_REFUSED.labels(kind, error.code).inc()
                raise
            CLAIMS_WON.labels(kind).inc()
            return result

        return counted

    return decorate


# ---------------------------------------------------------------- /metrics


def _client_allowed(request: HttpRequest, allowed: list[str]) -> bool:
    """REMOTE_ADDR only: a forwarded header is whatever the client wants it to be."""
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    for entry in allowed:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _refusal(request: HttpRequest) -> HttpResponse | None:
    """None when the caller may read the metrics, else the error response."""
    if not settings.METRICS_ENABLED:
        return json_error(request, f"No endpoint at {request.path}.", "not_found", 404)
    token, allowed = settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS
    if allowed and not _client_allowed(request, allowed):
        return json_error(request, "Metrics are not served to this address.", "forbidden", 403)
    if token:
        given = bearer_secret(request.headers.get("Authorization")) or ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            response = json_error(
                request, "A valid metrics bearer token is required.", "not_authenticated", 401
            )
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    elif not allowed and settings.ENVIRONMENT == "production":
        return json_error(
            request,
            "Metrics need METRICS_TOKEN or METRICS_ALLOWED_IPS in production.",
            "forbidden",
            403,
        )
    return None


def _forget_dead_processes(path: str) -> None:
    """Live gauges of processes that have ended (a restarted daphne, a recycled worker)
    must stop counting; their counters stay, so totals never go back."""
    for name in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        pid = os.path.basename(name).rsplit("_", 1)[-1].removesuffix(".db")
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(int(pid), path)
        except PermissionError:
            pass  # alive, as another user


def render() -> bytes:
    if not MULTIPROC_DIR:
        return generate_latest(REGISTRY)
    _forget_dead_processes(MULTIPROC_DIR)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=MULTIPROC_DIR)
    return generate_latest(registry)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics in Prometheus' text format."""
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    if request.method not in ("GET", "HEAD"):
        return json_error(request, "Use GET.", "method_not_allowed", 405)
    response = HttpResponse(render(), content_type=CONTENT_TYPE_PLAIN_0_0_4)
    response["Cache-Control"] = "no-store"
    return response
