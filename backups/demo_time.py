"""Time for the demo's past (seed_demo): the team's working hours, and a timeline that
makes writes at moments in the past, in time order, through the ordinary services.

Each write runs inside `core.clock.as_of` its moment, so the tickets' times, their
history, the board's events and the comments all say it happened then; and since the
writes are made in time order, the board's event numbers follow time too."""

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from core import clock

DAYS = 42  # six weeks of past
WORKDAY = (time(8), time(17))  # the team's working day, UTC, Monday to Friday
WORKDAY_HOURS = 9


def window(today: date) -> tuple[datetime, datetime]:
    """The demo's past: the six weeks up to the start of `today` (UTC). Nothing happens
    today, so the same seed gives the same board all day long."""
    end = datetime.combine(today, time.min, tzinfo=UTC)
    return end - timedelta(days=DAYS), end


def _opening(day: date) -> datetime:
    return datetime.combine(day, WORKDAY[0], tzinfo=UTC)


def _closing(day: date) -> datetime:
    return datetime.combine(day, WORKDAY[1], tzinfo=UTC)


def next_working_moment(moment: datetime) -> datetime:
    """`moment` if the team is at work then, else the next time it starts work."""
    day = moment.date()
    if day.weekday() < 5 and moment < _closing(day):
        return max(moment, _opening(day))
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return _opening(day)


def working_hours_later(moment: datetime, hours: float) -> datetime:
    """The moment `hours` of the team's working time after `moment`: nights and weekends
    do not count."""
    left = timedelta(hours=hours)
    moment = next_working_moment(moment)
    while moment + left > _closing(moment.date()):
        left -= _closing(moment.date()) - moment
        moment = next_working_moment(_closing(moment.date()))
    return moment + left


def working_hours_between(start: datetime, end: datetime) -> float:
    """How many of the team's working hours lie between `start` and `end`."""
    total, day = timedelta(), start.date()
    while day <= end.date():
        if day.weekday() < 5:
            opened, closed = max(start, _opening(day)), min(end, _closing(day))
            total += max(closed - opened, timedelta())
        day += timedelta(days=1)
    return total / timedelta(hours=1)


def hours_later(moment: datetime, hours: float) -> datetime:
    """Wall-clock hours, for the agent: it keeps no office hours."""
    return moment + timedelta(hours=hours)


@dataclass(order=True)
class _Step:
    at: datetime
    number: int
    write: Callable[[], None] = field(compare=False)


class Timeline:
    """Writes to make at moments before `until`, made in time order by `run`, each inside
    `clock.as_of` its moment. A write may schedule later ones; what falls at or after
    `until` is left undone, as work still to come."""

    def __init__(self, until: datetime) -> None:
        self.until = until
        self.now: datetime | None = None
        self._steps: list[_Step] = []
        self._numbers = itertools.count()

    def at(self, moment: datetime, write: Callable[[], None]) -> None:
        # A step scheduled by another runs after it, never at the same instant or before,
        # so that time and event numbers go up together.
        if self.now is not None:
            moment = max(moment, self.now + timedelta(seconds=1))
        heapq.heappush(self._steps, _Step(moment, next(self._numbers), write))

    def run(self) -> None:
        while self._steps and self._steps[0].at < self.until:
            step = heapq.heappop(self._steps)
            self.now = step.at
            with clock.as_of(step.at):
                step.write()
        self._steps.clear()
        self.now = None
