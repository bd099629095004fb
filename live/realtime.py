"""What the live surfaces (WebSocket, server-sent events) share: input parsing and this
process's connection counts. The event log they read is `boards.events`'s; whether a
connection may still watch is `agents.watch`. Everything here is synchronous; async
callers wrap it in `database_sync_to_async`."""

from dataclasses import asdict, dataclass, field

from django.conf import settings

from core.errors import InvalidInput, field_error
from core.ids import ID_MAX


def parse_int(value, field: str, *, minimum: int, maximum: int = ID_MAX) -> int:
    """A whole number given as a number or as digits (query strings, JSON alike)."""
    text = value.strip() if isinstance(value, str) else ""
    # ASCII digits only, and few enough of them for int() to take.
    if 0 < len(text) <= 20 and text.isascii() and text.lstrip("-").isdecimal():
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int):
        message = "Must be a whole number."
        raise InvalidInput(f"{field}: {message}", validation_errors=[field_error(field, message)])
    if not minimum <= value <= maximum:
        message = f"Must be between {minimum} and {maximum}."
        raise InvalidInput(f"{field}: {message}", validation_errors=[field_error(field, message)])
    return value


def parse_optional_int(value, field: str, *, minimum: int, maximum: int = ID_MAX) -> int | None:
    if value is None or value == "":
        return None
    return parse_int(value, field, minimum=minimum, maximum=maximum)


@dataclass
class ConnectionCounter:
    """Long-lived connections of one kind in this process (WebSockets, event streams).
    Each daphne process counts its own: the cap protects the process, and health reports
    what the answering process holds."""

    limit_setting: str = field(default="WS_MAX_CONNECTIONS", repr=False)
    open: int = 0
    opened_total: int = 0
    refused_over_cap: int = 0
    closed_silent: int = 0

    @property
    def limit(self) -> int:
        return getattr(settings, self.limit_setting)

    def try_open(self) -> bool:
        if self.open >= self.limit:
            self.refused_over_cap += 1
            return False
        self.open += 1
        self.opened_total += 1
        return True

    def release(self) -> None:
        self.open -= 1

    def stats(self) -> dict:
        counts = {name: value for name, value in asdict(self).items() if name != "limit_setting"}
        return {**counts, "max_connections": self.limit}


# One of each per process; consumers and streams all run on the process's one event loop,
# so plain integers are enough.
connections = ConnectionCounter()
streams = ConnectionCounter("SSE_MAX_STREAMS")


def connection_stats() -> dict:
    return connections.stats()
