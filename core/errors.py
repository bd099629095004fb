"""The one error shape of the API:
{"error": {"message", "code", "error_id", "timestamp", "validation_errors": []}}."""

import functools
import logging
import sys
import uuid
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

from core.request_id import current_request_id
from core.uploads import UploadRefused

logger = logging.getLogger("core.errors")


class DomainError(Exception):
    """An error a service raises on purpose; every surface shows it the same way."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        validation_errors: list[dict] | None = None,
        extra: dict | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.validation_errors = validation_errors or []
        self.extra = extra or {}


class InvalidInput(DomainError):
    status = 400
    code = "invalid"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class VersionConflict(Conflict):
    code = "version_conflict"


class LeaseLost(Conflict):
    """A write fenced with a claim token that names a claim no longer current: the lease
    ran out, or the ticket was released or claimed again since."""

    code = "lease_lost"


class ReviewRequired(Conflict):
    """A move forward out of a column that requires review, or past one, other than by
    an approval (POST /api/tickets/{id}/review)."""

    code = "review_required"


class TooFrequent(DomainError):
    """The same write again too soon (429 `rate_limited`, with `Retry-After`)."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, extra={"retry_after": retry_after})
        self.retry_after_seconds = retry_after


def field_error(field: str, message: str, code: str = "invalid") -> dict:
    return {"field": field, "message": message, "code": code}


def error_body(
    message: str, code: str, validation_errors: list[dict] | None = None, **extra: Any
) -> dict:
    return {
        "error": {
            "message": message,
            "code": code,
            "error_id": uuid.uuid4().hex,
            "timestamp": timezone.now().isoformat(),
            "validation_errors": validation_errors or [],
            # The X-Request-ID of the request: the key to its log lines.
            "request_id": current_request_id(),
            **extra,
        }
    }


def _flatten(detail: Any, prefix: str = "") -> list[dict]:
    """DRF's nested error detail → a flat list of {field, message, code}."""
    if isinstance(detail, dict):
        rows: list[dict] = []
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(key, int):  # a ListField's item: columns[1], as for nested lists
                name = f"{prefix}[{key}]"
            if key == "non_field_errors":
                name = prefix or "non_field_errors"
            rows.extend(_flatten(value, name))
        return rows
    if isinstance(detail, list):
        rows = []
        for index, item in enumerate(detail):
            nested = isinstance(item, dict | list)
            rows.extend(_flatten(item, f"{prefix}[{index}]" if nested else prefix))
        return rows
    code = getattr(detail, "code", "invalid")
    return [field_error(prefix or "non_field_errors", str(detail), code)]


def _validation_message(rows: list[dict]) -> str:
    if not rows:
        return "The request is invalid."
    first = rows[0]
    more = f" (and {len(rows) - 1} more)" if len(rows) > 1 else ""
    return f"{first['field']}: {first['message']}{more}"


class PayloadTooLarge(drf_exceptions.APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def _client_fault(exc: Exception) -> Exception:
    """Errors that Django or the parsers raise on a bad request body, as 4xx errors."""
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, UploadRefused):
        return drf_exceptions.UnsupportedMediaType("multipart/form-data", str(exc))
    if isinstance(exc, SuspiciousOperation):
        return drf_exceptions.ParseError("The request is malformed.")
    if isinstance(exc, RecursionError):
        # json.loads gives up on very deep nesting with RecursionError, not ValueError.
        return drf_exceptions.ParseError("The request body is nested too deeply.")
    return exc


class DatabaseBusy(DomainError):
    status = 503
    code = "database_busy"
    # How long a client should wait before it tries again.
    retry_after_seconds = 1

    def __init__(self, message: str = "The database is busy; try again in a moment.") -> None:
        super().__init__(message)


def is_database_unavailable(exc: BaseException | None) -> bool:
    """The database could not serve the request just now: no pooled connection within
    the timeout, too many clients, a connection the server ended, a deadlock it broke.
    That is load or a fault, answered 503 `database_busy`; a 500 stays a bug."""
    return isinstance(exc, OperationalError | InterfaceError)


def database_busy(response: HttpResponse) -> HttpResponse:
    """Mark `response` as the busy-database answer: Retry-After, and a flag the metrics
    middleware counts."""
    response["Retry-After"] = str(DatabaseBusy.retry_after_seconds)
    response.database_busy = True
    return response


def api_exception_handler(exc: Exception, context: dict) -> Response:
    """DRF's EXCEPTION_HANDLER: every error, expected or not, in the one shape."""
    if is_database_unavailable(exc):
        logger.warning("Database unavailable: %s", exc)
        exc = DatabaseBusy()
    if isinstance(exc, DomainError):
        body = error_body(exc.message, exc.code, exc.validation_errors, **exc.extra)
        response = Response(body, status=exc.status)
        if isinstance(exc, TooFrequent):
            response["Retry-After"] = str(exc.retry_after_seconds)
        return database_busy(response) if isinstance(exc, DatabaseBusy) else response
    exc = _client_fault(exc)
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = drf_exceptions.ValidationError(exc.messages)
    if isinstance(exc, drf_exceptions.ValidationError):
        rows = _flatten(exc.detail)
        return Response(error_body(_validation_message(rows), "invalid", rows), status=400)
    if isinstance(exc, drf_exceptions.APIException):
        headers = {}
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        if getattr(exc, "auth_header", None):
            # A 401 must say how to authenticate (RFC 9110); DRF puts it here.
            headers["WWW-Authenticate"] = exc.auth_header
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        return Response(error_body(str(exc.detail), code), status=exc.status_code, headers=headers)
    body = error_body("Internal server error.", "server_error")
    logger.exception("Unhandled API error %s", body["error"]["error_id"], exc_info=exc)
    return Response(body, status=500)


def json_error(request, message: str, code: str, status: int) -> JsonResponse:
    return JsonResponse(error_body(message, code), status=status)


def _no_endpoint(request) -> JsonResponse:
    return json_error(request, f"No endpoint at {request.path}.", "not_found", 404)


@csrf_exempt  # it writes nothing, and a POST to a wrong path is a 404 rather than a 403
def api_not_found(request: HttpRequest, **kwargs) -> JsonResponse:
    """The last route under /api/: a path no other route takes is the envelope's 404, also
    with DEBUG on, where Django would answer with its debug page of every URL pattern."""
    return _no_endpoint(request)


# Metrics and access logs label it `unmatched`, as a path no route matches (core.routes).
api_not_found.matches_nothing = True


def api_methods(*methods: str) -> Callable:
    """Django's `require_http_methods` for a plain (not DRF) view under /api/: any other
    method is 405 `method_not_allowed` in the envelope with `Allow`, as DRF answers it."""
    allowed = [method.upper() for method in methods]

    def refused(request) -> JsonResponse:
        message = f'Method "{request.method}" not allowed.'
        response = json_error(request, message, "method_not_allowed", 405)
        response["Allow"] = ", ".join(allowed)
        return response

    def decorator(view: Callable) -> Callable:
        if iscoroutinefunction(view):

            @functools.wraps(view)
            async def checked_async(request, *args, **kwargs):
                if request.method not in allowed:
                    return refused(request)
                return await view(request, *args, **kwargs)

            return checked_async

        @functools.wraps(view)
        def checked(request, *args, **kwargs):
            if request.method not in allowed:
                return refused(request)
            return view(request, *args, **kwargs)

        return checked

    return decorator


def handler404(request, exception=None):
    if request.path.startswith("/api/"):
        return _no_endpoint(request)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    # Django calls this from inside its `except` block: the error is still at hand.
    if is_database_unavailable(sys.exc_info()[1]):
        busy = DatabaseBusy()
        if request.path.startswith("/api/"):
            return database_busy(json_error(request, busy.message, busy.code, busy.status))
        return database_busy(
            HttpResponse(busy.message, status=busy.status, content_type="text/plain")
        )
    if request.path.startswith("/api/"):
        return json_error(request, "Internal server error.", "server_error", 500)
    from django.views.defaults import server_error

    return server_error(request)


def handler400(request, exception=None):
    if request.path.startswith("/api/"):
        return json_error(request, "Bad request.", "bad_request", 400)
    from django.views.defaults import bad_request

    return bad_request(request, exception)
