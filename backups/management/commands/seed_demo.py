"""Demo data: software-project boards worked on by two people and an agent, with six
weeks of past (backups.demo_flow), so that Insights, card colours and statistics look
like a real team's board the first time someone opens them.

Everything goes through the services, so the boards come with real history and a real
event log; each write is stamped with the moment it happens in the demo's past
(core.clock.as_of). The same --seed gives the same boards on the same day. Running it
again makes new boards (numbered) and reuses the people."""

import random

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from agents.services import agent_create
from backups.demo_data import AGENT, COLUMNS, PEOPLE, PROJECTS
from backups.demo_flow import IN_PROGRESS, TESTING, Team, play
from backups.demo_time import window
from boards.models import Board, Role
from boards.selectors import board_columns
from boards.services import board_create, board_set_columns, membership_set
from core import clock
from core.errors import DomainError
from core.progress import command_progress
from history.models import TicketHistory


class Command(BaseCommand):
    help = (
        "Create realistic demo boards: six weeks of tickets, moves, comments and history "
        "by people and an agent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--boards", type=int, default=2, help="How many boards (default 2).")
        parser.add_argument(
            "--tickets", type=int, default=40, help="Tickets per board (default 40)."
        )
        parser.add_argument(
            "--seed", type=int, default=None, help="Random seed, for repeatability."
        )

    def handle(self, *args, boards: int, tickets: int, seed: int | None, **options):
        if not 1 <= boards <= 50 or not 1 <= tickets <= 2000:
            raise CommandError("--boards must be from 1 to 50 and --tickets from 1 to 2000.")
        rng = random.Random(seed)
        self.verbosity = options.get("verbosity", 1)
        start, end = window(timezone.now().date())
        try:
            team = self._team()
            made = [
                self._board(random.Random(rng.random()), index, tickets, team, start, end)
                for index in range(boards)
            ]
        except DomainError as error:
            raise CommandError(error.message) from error
        history = TicketHistory.objects.filter(board__in=made).count()
        names = ", ".join(f"{board.name!r} (id {board.pk})" for board in made)
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {names}: {history} history rows in all, from {start:%Y-%m-%d} to "
                f"{end:%Y-%m-%d}."
            )
        )

    # ---------------------------------------------------------------- actors

    def _team(self) -> Team:
        user_model = get_user_model()
        people = []
        for username, first, last in PEOPLE:
            person = user_model.objects.filter(username=username).first()
            if person is None:
                # No password: an operator sets one with `manage.py changepassword`.
                person = user_model.objects.create_user(
                    username=username, first_name=first, last_name=last
                )
                self.stdout.write(f"Created demo user {username!r} (no password set).")
            people.append(person)
        agent = user_model.objects.filter(username=AGENT).first()
        if agent is None:
            issued = agent_create(username=AGENT, token_name="demo")
            agent = issued.token.user
            self.stdout.write(
                f"Created demo agent {AGENT!r}; its token (shown once): {issued.secret}"
            )
        owner, developer = people
        return Team(owner=owner, developer=developer, agent=agent)

    # ---------------------------------------------------------------- boards

    def _board(self, rng: random.Random, index: int, count: int, team: Team, start, end):
        name, description = PROJECTS[index % len(PROJECTS)]
        taken = Board.objects.filter(name__startswith=name).count()
        with clock.as_of(start):
            board = self._set_up(
                name=f"{name} #{taken + 1}" if taken else name,
                description=description,
                count=count,
                team=team,
            )
        # On stdout, beside the seeding report (nothing here is meant for a pipe).
        with command_progress(
            self, board.name, count, unit="tickets", verbosity=self.verbosity, stream=self.stdout
        ) as progress:
            play(
                board=board,
                team=team,
                rng=rng,
                count=count,
                start=start,
                end=end,
                arrived=progress.update,
            )
        return board

    def _set_up(self, *, name: str, description: str, count: int, team: Team) -> Board:
        owner = team.owner
        board = board_create(actor=owner, name=name, description=description, columns=COLUMNS)
        # Limits a busy team would set: tight enough to bite now and then.
        wip_limits = {IN_PROGRESS: max(4, count // 5), TESTING: max(3, count // 8)}
        board_set_columns(
            actor=owner,
            board_id=board.pk,
            columns=[
                {
                    "id": column["id"],
                    "name": column["name"],
                    "wip_limit": wip_limits.get(column["name"]),
                }
                for column in board_columns(board_id=board.pk)
            ],
        )
        # The owner is the board's admin; the rest of the team and the agent work on it.
        for person, role in [(team.developer, Role.MEMBER), (team.agent, Role.AGENT)]:
            membership_set(actor=owner, board_id=board.pk, user_id=person.pk, role=role)
        return board
