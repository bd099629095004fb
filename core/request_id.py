"""One id per HTTP request: taken from the incoming X-Request-ID when it looks sane
(nginx sets it with `proxy_set_header X-Request-ID $request_id;`), made up otherwise.
It is kept in a context variable, so every log line of the request carries it (see
core.log_format), returned as the X-Request-ID response header, and put in the
error envelope. The middleware also writes one access log line per request."""

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

from core.routes import route_of

HEADER = "X-Request-ID"
# Letters, digits and a few separators: enough for UUIDs, nginx's 32 hex digits and
# most tracing ids, and nothing that could break a log line or a header.
SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
access_logger = logging.getLogger("agent_kanban.access")


def current_request_id() -> str | None:
    """The id of the request being handled here, or None outside a request."""
    return _request_id.get()


def request_id_of(record_request: object) -> str | None:
    """The id a request got, for log records that carry the request (django.request)."""
    return getattr(record_request, "request_id", None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def incoming_request_id(request: HttpRequest) -> str:
    given = request.headers.get(HEADER, "")
    return given if SANE_ID.fullmatch(given) else new_request_id()


def _user_id(request: HttpRequest) -> int | None:
    """The user's id when authentication has already run; never a query of its own (a
    lazy session user that nothing looked at stays unevaluated)."""
    user = getattr(request, "user", None)
    if user is None or (isinstance(user, SimpleLazyObject) and user._wrapped is empty):
        return None
    return user.pk if getattr(user, "is_authenticated", False) else None


def _log_access(request: HttpRequest, response: HttpResponse, started: float) -> None:
    if not settings.ACCESS_LOG or not access_logger.isEnabledFor(logging.INFO):
        return
    duration_ms = round((time.perf_counter() - started) * 1000, 2)
    route = route_of(request)
    access_logger.info(
        "%s %s %s %.1fms",
        request.method,
        request.path,
        response.status_code,
        duration_ms,
        extra={
            "method": request.method,
            "route": route,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": duration_ms,
            "user_id": _user_id(request),
        },
    )


class RequestIdMiddleware:
    """First in MIDDLEWARE. Sync and async, so daphne's requests take no thread hop for it.

    The context variable is reset when the request is done, so a WSGI thread carries no
    stale id into what it logs next. Django's own 4xx/5xx line comes after that; it
    carries the request, and the log filter reads the id from `request.request_id`."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self.__acall__(request)
        started = time.perf_counter()
        token = self._start(request)
        try:
            response = self.get_response(request)
            return self._finish(request, response, started)
        finally:
            _request_id.reset(token)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        token = self._start(request)
        try:
            response = await self.get_response(request)
            return self._finish(request, response, started)
        finally:
            _request_id.reset(token)

    @staticmethod
    def _start(request: HttpRequest) -> Token:
        request.request_id = incoming_request_id(request)
        return _request_id.set(request.request_id)

    @staticmethod
    def _finish(request: HttpRequest, response: HttpResponse, started: float) -> HttpResponse:
        response[HEADER] = request.request_id
        _log_access(request, response, started)
        return response
