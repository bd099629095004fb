"""Periods of whole UTC days, as the statistics endpoints take them."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.utils import timezone

from core.errors import InvalidInput, field_error

DEFAULT_DAYS = 30
MAX_DAYS = 3660


@dataclass(frozen=True)
class Period:
    """The days first_day..last_day (UTC), both included."""

    first_day: date
    last_day: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time.min, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """Midnight after the last day: the period is [start, end)."""
        return datetime.combine(self.last_day + timedelta(days=1), time.min, tzinfo=UTC)

    @property
    def length(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def dates(self) -> list[date]:
        return [self.first_day + timedelta(days=offset) for offset in range(self.length)]

    def as_dict(self) -> dict:
        return {"from": self.first_day, "to": self.last_day, "days": self.length}

    def cache_parts(self) -> tuple:
        return (self.first_day.isoformat(), self.last_day.isoformat())


def today() -> date:
    return timezone.now().astimezone(UTC).date()


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", validation_errors=[field_error(field, message)])


def period_from(
    *,
    days: int | None = None,
    first_day: date | None = None,
    last_day: date | None = None,
    default_days: int = DEFAULT_DAYS,
) -> Period:
    """`days` means the last `days` days, today included; or give `from`/`to` dates (each
    optional: `to` defaults to today, `from` to `default_days` days before `to`). Days
    after today are left out: they have no figures yet."""
    if days is not None and (first_day or last_day):
        raise _invalid("days", "Give either days or from/to, not both.")
    last = min(last_day or today(), today())
    if days is not None:
        return Period(last - timedelta(days=days - 1), last)
    first = first_day or last - timedelta(days=default_days - 1)
    if first > last:
        raise _invalid("from", f"Must not be after {last.isoformat()} (to, or today).")
    if (last - first).days + 1 > MAX_DAYS:
        raise _invalid("from", f"A period is at most {MAX_DAYS} days.")
    return Period(first, last)
