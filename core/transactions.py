"""A write the database broke off for another writer's sake gets one more try."""

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import OperationalError, connection

from core.metrics import database_retry

P = ParamSpec("P")
R = TypeVar("R")

# deadlock_detected and serialization_failure: PostgreSQL rolled the transaction back so
# that another could go on, and the same transaction again usually goes through.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def is_retryable(exc: BaseException) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) in RETRYABLE_SQLSTATES


def retry_once_on_deadlock(service: Callable[P, R]) -> Callable[P, R]:
    """Run `service` (a write that opens its own transaction) once more when the
    database broke its transaction off as a deadlock or a serialization failure. A
    second failure goes to the caller, which answers 503 `database_busy`. Called inside
    a transaction that is already open, it is not retried here: that transaction is
    lost too, and the service that opened it retries."""

    @functools.wraps(service)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        if connection.in_atomic_block:
            return service(*args, **kwargs)
        try:
            return service(*args, **kwargs)
        except OperationalError as exc:
            if not is_retryable(exc):
                raise
        try:
            result = service(*args, **kwargs)
        except OperationalError as exc:
            if is_retryable(exc):
                database_retry("failed")
            raise
        database_retry("ok")
        return result

    return run
