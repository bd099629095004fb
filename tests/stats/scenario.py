"""A board with known history: every ticket and move is made through the services, then
the setup rewrites the times of the rows each step wrote (history, and the tickets'
created_at / column_entered_at) to fixed times. Only test setup writes like this.

Board "Flow" (Backlog, In Progress, Testing, Done); T0 = midnight UTC, 20 days ago;
"day k" is the UTC day T0 + k days (today is day 20).

- t1..t10: ticket i is created on day i-1 at 01:00 and moved to In Progress on day
  i+1 at 02:00, where it stays IN_PROGRESS_HOURS[i-1] hours; t1..t3 then spend
  TESTING_HOURS[i-1] hours in Testing, the others go straight to Done. All by `human`.
- x1: created on day 0 at 05:00, In Progress at 06:00, deleted on day 2 at 12:00.
- o1..o5: created on day 12 at 09:00 in Backlog. By `agent`: o1, o2, o3 moved to In
  Progress OPEN_HOURS before now; o4 moved to Testing one hour before now. o5 stays.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from django.db.models import Max
from django.utils import timezone

from boards.services import board_create
from history.models import TicketHistory
from tests.factories import add_member
from tickets.models import Ticket
from tickets.services import ticket_create, ticket_delete, ticket_move

IN_PROGRESS_HOURS = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]
TESTING_HOURS = [1, 2, 4]
OPEN_HOURS = {"o1": 2, "o2": 5, "o3": 8}
COLUMNS = ["Backlog", "In Progress", "Testing", "Done"]
HOUR = 3600


def hours(value: float) -> float:
    return value * HOUR


@dataclass
class Known:
    board: object
    t0: datetime
    now: datetime
    ids: dict[str, int] = field(default_factory=dict)

    def day(self, k: int):
        return (self.t0 + timedelta(days=k)).date()

    def at(self, day: int, hour: float) -> datetime:
        return self.t0 + timedelta(days=day, hours=hour)


class Timeline:
    """Runs service calls and remembers which history rows each wrote, and when it
    should have happened."""

    def __init__(self) -> None:
        self.last_id = TicketHistory.objects.aggregate(last=Max("id"))["last"] or 0
        self.steps: list[tuple[list[int], datetime]] = []

    def step(self, at: datetime, call):
        result = call()
        ids = list(TicketHistory.objects.filter(id__gt=self.last_id).values_list("id", flat=True))
        self.last_id = max(ids, default=self.last_id)
        self.steps.append((ids, at))
        return result

    def apply(self, ticket_ids: list[int]) -> None:
        for ids, at in self.steps:
            TicketHistory.objects.filter(id__in=ids).update(changed_at=at)
        for ticket in Ticket.objects.filter(pk__in=ticket_ids).select_related("column"):
            rows = TicketHistory.objects.filter(ticket_id=ticket.pk).order_by("changed_at", "id")
            created = rows.filter(field_name="created").first().changed_at
            entered = rows.filter(field_name="current_column").last().changed_at
            Ticket.objects.filter(pk=ticket.pk).update(
                created_at=created, column_entered_at=entered, updated_at=entered
            )


def build(human, agent) -> Known:
    now = timezone.now()
    t0 = datetime.combine(now.astimezone(UTC).date() - timedelta(days=20), time.min, tzinfo=UTC)
    board = board_create(actor=human, name="Flow", columns=COLUMNS)
    add_member(board, agent, "agent")
    known = Known(board=board, t0=t0, now=now)
    line = Timeline()

    def create(name: str, at: datetime, actor=human) -> int:
        ticket = line.step(
            at, lambda: ticket_create(actor=actor, board_id=board.pk, title=name.upper())
        )
        known.ids[name] = ticket.pk
        return ticket.pk

    def move(name: str, column: str, at: datetime, actor=human) -> None:
        line.step(at, lambda: ticket_move(actor=actor, ticket_id=known.ids[name], column=column))

    for i in range(1, 11):
        name = f"t{i}"
        create(name, known.at(i - 1, 1))
        started = known.at(i + 1, 2)
        move(name, "In Progress", started)
        left = started + timedelta(hours=IN_PROGRESS_HOURS[i - 1])
        if i <= 3:
            move(name, "Testing", left)
            left += timedelta(hours=TESTING_HOURS[i - 1])
        move(name, "Done", left)

    create("x1", known.at(0, 5))
    move("x1", "In Progress", known.at(0, 6))
    line.step(known.at(2, 12), lambda: ticket_delete(actor=human, ticket_id=known.ids["x1"]))

    for name in ("o1", "o2", "o3", "o4", "o5"):
        create(name, known.at(12, 9))
    for name, spent in OPEN_HOURS.items():
        move(name, "In Progress", now - timedelta(hours=spent), actor=agent)
    move("o4", "Testing", now - timedelta(hours=1), actor=agent)

    line.apply(list(known.ids.values()))
    return known


def cycle_hours() -> list[float]:
    return [IN_PROGRESS_HOURS[i] + (TESTING_HOURS[i] if i < 3 else 0) for i in range(10)]
