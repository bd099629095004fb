"""How work goes on a demo board over its six weeks (seed_demo). Tickets arrive on
working days — a backlog at the start, then a steady trickle — wait, are pulled into
progress (or refused at the WIP limit and tried again later), tested, reviewed, now and
then sent back, and finished by the reviewer in working hours; people comment as they go.
The agent works around the clock. Every write is a service call on the timeline
(backups.demo_time), so the board's history, statistics and card colours are a real
team's."""

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from agents.models import User
from backups.demo_data import COLUMNS, COMMENTS, TICKETS
from backups.demo_time import (
    WORKDAY_HOURS,
    Timeline,
    hours_later,
    working_hours_between,
    working_hours_later,
)
from boards.models import Board
from comments.services import comment_create
from core.errors import Conflict
from tickets.services import (
    ticket_add_dependency,
    ticket_claim,
    ticket_create,
    ticket_move,
    ticket_update,
)

BACKLOG, IN_PROGRESS, TESTING, DONE = COLUMNS

# How long things take: (median, spread) of a log-normal, in the team's working hours
# (the agent's work in wall-clock hours).
WAIT = (16.0, 1.1)  # in the backlog before someone starts
WORK = (40.0, 0.7)
AGENT_WORK = (40.0, 0.8)
REVIEW_WAIT = (14.0, 0.8)  # in Testing until the reviewer gets to it
REWORK = (12.0, 0.6)
STARTING_BACKLOG = 0.3  # of the tickets exist when the board starts
NEVER_STARTED = 0.15  # ideas that stay in the backlog
SENT_BACK = 0.15  # of reviews send the ticket back to work, once
BLOCKED = 0.12  # of tickets wait for an earlier one to be finished first
REPRIORITISED = 0.2  # of tickets get another priority soon after they arrive
RETRIES = 4  # a start refused at the WIP limit or blocked is tried again this often


@dataclass(frozen=True)
class Team:
    owner: User  # the board's admin, who reviews and finishes the work
    developer: User
    agent: User


def _lognormal(rng: random.Random, shape: tuple[float, float]) -> float:
    median, spread = shape
    return rng.lognormvariate(math.log(median), spread)


def arrivals(rng: random.Random, count: int, start: datetime, end: datetime) -> list[datetime]:
    """When each of `count` tickets is created, in order: a starting backlog over the
    first two working days, the rest spread over the working time after them."""
    first_days = 2 * WORKDAY_HOURS
    later = working_hours_between(start, end) - first_days
    moments = [
        working_hours_later(
            start,
            rng.uniform(0, first_days)
            if rng.random() < STARTING_BACKLOG
            else first_days + rng.uniform(0, later),
        )
        for _ in range(count)
    ]
    return sorted(min(moment, end - timedelta(minutes=1)) for moment in moments)


class Story:
    """One ticket's life, written step by step on the timeline. Every decision is drawn
    from the ticket's own random stream, so a seed gives the same board."""

    def __init__(
        self,
        *,
        board: Board,
        team: Team,
        timeline: Timeline,
        rng: random.Random,
        number: int,
        earlier: list["Story"],
    ) -> None:
        self.board, self.team, self.timeline, self.rng = board, team, timeline, rng
        self.number, self.earlier = number, earlier
        self.ticket_id: int | None = None
        self.column = BACKLOG
        self.assignee = rng.choice([None, team.developer, team.agent, team.agent, team.owner])
        # The owner reviews; the developer does the work of tickets assigned to nobody or her.
        workers = (team.developer, team.agent)
        self.worker = self.assignee if self.assignee in workers else team.developer
        self.blocker: Story | None = None
        self.tries = 0
        self.sent_back = False

    # ---------------------------------------------------------------- scheduling

    def _after(self, hours: float, who: User, write: Callable[[], None]) -> None:
        later = hours_later if who == self.team.agent else working_hours_later
        self.timeline.at(later(self.timeline.now, hours), write)

    def _comment(self, kind: str, who: User, chance: float, within: float = 1.0) -> None:
        if self.rng.random() < chance:
            text = self.rng.choice(COMMENTS[kind])
            self._after(
                self.rng.uniform(0.1, within),
                who,
                lambda: comment_create(actor=who, ticket_id=self.ticket_id, text=text),
            )

    def _move(self, who: User, column: str) -> bool:
        """Move the ticket; False when the column is at its WIP limit: a refused move,
        which Insights counts, as on a real board."""
        try:
            ticket_move(actor=who, ticket_id=self.ticket_id, column=column)
        except Conflict as error:
            if error.code != "wip_limit":
                raise
            return False
        self.column = column
        return True

    # ---------------------------------------------------------------- the steps

    def arrive(self) -> None:
        title, description, criteria, priority, labels = TICKETS[self.number % len(TICKETS)]
        if self.number >= len(TICKETS):
            title = f"{title} (part {self.number // len(TICKETS) + 1})"
        team = self.team
        ticket = ticket_create(
            actor=self.rng.choice([team.owner, team.owner, team.developer, team.agent]),
            board_id=self.board.pk,
            title=title,
            description=description,
            acceptance_criteria=criteria,
            priority=priority,
            labels=labels,
            assignee=self.assignee.username if self.assignee else None,
        )
        self.ticket_id = ticket.pk
        self._maybe_blocked()
        if self.rng.random() < REPRIORITISED:
            priority = self.rng.choice(["high", "low"])
            self._after(self.rng.uniform(1, 8), team.owner, lambda: self._reprioritise(priority))
        wait = _lognormal(self.rng, WAIT)
        self._comment("backlog", self.rng.choice([team.owner, team.developer]), 0.3, wait)
        if self.rng.random() >= NEVER_STARTED:
            self._after(wait, self.worker, self.start)

    def _maybe_blocked(self) -> None:
        blockers = [story for story in self.earlier if story.ticket_id is not None]
        if blockers and self.rng.random() < BLOCKED:
            self.blocker = self.rng.choice(blockers)
            ticket_add_dependency(
                actor=self.team.owner,
                ticket_id=self.ticket_id,
                blocked_by_id=self.blocker.ticket_id,
            )

    def _reprioritise(self, priority: str) -> None:
        ticket_update(actor=self.team.owner, ticket_id=self.ticket_id, priority=priority)

    def start(self) -> None:
        blocked = self.blocker is not None and self.blocker.column != DONE
        if blocked or not self._move(self.worker, IN_PROGRESS):
            self.tries += 1
            if self.tries <= RETRIES:
                self._after(self.rng.uniform(4, 18), self.worker, self.start)
            return
        if self.assignee is None:
            ticket_update(
                actor=self.worker, ticket_id=self.ticket_id, assignee=self.worker.username
            )
            self.assignee = self.worker
        self._comment("start", self.worker, 0.6)
        self._work(AGENT_WORK if self.worker == self.team.agent else WORK)

    def _work(self, shape: tuple[float, float]) -> None:
        self._after(_lognormal(self.rng, shape), self.worker, self.hand_over)

    def hand_over(self) -> None:
        if not self._move(self.worker, TESTING):
            # Testing is full: the ticket stays in progress a while longer.
            self._after(self.rng.uniform(1, 4), self.worker, self.hand_over)
            return
        self._comment("review", self.worker, 0.7, 0.5)
        self._after(_lognormal(self.rng, REVIEW_WAIT), self.team.owner, self.review)

    def review(self) -> None:
        owner = self.team.owner
        if not self.sent_back and self.rng.random() < SENT_BACK:
            self.sent_back = True
            if self._move(owner, IN_PROGRESS):
                comment_create(
                    actor=owner, ticket_id=self.ticket_id, text=self.rng.choice(COMMENTS["rework"])
                )
                self._work(REWORK)
                return
        self._move(owner, DONE)
        self._comment("done", owner, 0.5, 0.3)

    def claim_if_working(self) -> None:
        """Now, in real time: the agent holds a claim on what it is working on, as a live
        agent would (claims and leases run on the real clock)."""
        if self.worker == self.team.agent and self.column == IN_PROGRESS:
            ticket_claim(actor=self.team.agent, ticket_id=self.ticket_id)


def play(
    *,
    board: Board,
    team: Team,
    rng: random.Random,
    count: int,
    start: datetime,
    end: datetime,
    arrived: Callable[[int], None],
) -> None:
    """Write `count` tickets' six weeks on `board`, from `start` to `end`, then let the
    agent claim what it is in the middle of. `arrived(n)` is told each new ticket."""
    timeline = Timeline(until=end)
    stories: list[Story] = []
    for number, moment in enumerate(arrivals(rng, count, start, end)):
        story = Story(
            board=board,
            team=team,
            timeline=timeline,
            rng=random.Random(rng.random()),
            number=number,
            earlier=list(stories),
        )
        stories.append(story)

        def arrive(story: Story = story) -> None:
            story.arrive()
            arrived(story.number + 1)

        timeline.at(moment, arrive)
    timeline.run()
    for story in stories:
        story.claim_if_working()
