"""The moment a write is stamped with: now, except inside `as_of`.

`manage.py seed_demo` gives a demo board six weeks of past — tickets arriving, moving
and finishing day by day — so that Insights, card colours and statistics look like a
real team's board. It does that through the ordinary services, inside `as_of(moment)`:
each write then stamps its rows (ticket times, history, board events, comments, refused
moves) with `moment`, so all of them agree, as they would had it happened then. Nothing
but seed_demo sets it; claims, leases and tokens keep the real time, and so does the
audit log, which records what an operator really did, and when."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from django.utils import timezone

_as_of: ContextVar[datetime | None] = ContextVar("agent_kanban_as_of", default=None)


def now() -> datetime:
    """The time to stamp a write with: the real time, or the moment of `as_of`."""
    moment = _as_of.get()
    return timezone.now() if moment is None else moment


@contextmanager
def as_of(moment: datetime) -> Iterator[None]:
    """Stamp the writes of the enclosed code (in this thread or task) with `moment`, an
    aware time not in the future."""
    if timezone.is_naive(moment):
        raise ValueError("as_of needs an aware time.")
    if moment > timezone.now():
        raise ValueError("as_of cannot stamp writes with a time still to come.")
    token = _as_of.set(moment)
    try:
        yield
    finally:
        _as_of.reset(token)
