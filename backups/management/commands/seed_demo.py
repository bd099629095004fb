"""Demo data: software-project boards worked on by two people and an agent.

Everything goes through the services, so the boards come with real history and a
real event log. Running it again makes new boards (numbered) and reuses the people."""

import random

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from agents.services import agent_create
from boards.models import Board, Role
from boards.selectors import board_columns
from boards.services import board_create, board_set_columns, membership_set
from comments.services import comment_create
from core.errors import Conflict, DomainError
from core.progress import command_progress
from history.models import TicketHistory
from tickets.services import (
    ticket_add_dependency,
    ticket_claim,
    ticket_create,
    ticket_move,
    ticket_release,
    ticket_update,
)

PROJECTS = [
    ("Storefront", "The customer-facing web shop: catalogue, cart, checkout and accounts."),
    ("Platform API", "The public REST API, its workers and the infrastructure behind them."),
    ("Mobile app", "The iOS and Android apps: browsing, ordering and push notifications."),
]
PEOPLE = [("maria", "Maria", "Lopez"), ("jonas", "Jonas", "Berg")]
AGENT = "claude-demo"
COLUMNS = ["Backlog", "In Progress", "Testing", "Done"]

# (title, description, acceptance criteria, priority, labels)
TICKETS = [
    (
        "Add password reset by email",
        "Users who forget their password have no way back in except support.",
        "- A reset link is emailed and expires after 1 hour\n- Old sessions end after a reset",
        "high",
        ["auth", "feature"],
    ),
    (
        "Checkout fails for addresses with an apostrophe",
        'Orders to e.g. "O\'Connell Street" return a 500 from the address validator.',
        "- Apostrophes and other punctuation are accepted\n- Regression test added",
        "critical",
        ["bug", "checkout"],
    ),
    (
        "Paginate the order history page",
        "Customers with hundreds of orders wait 8 s for the page to load.",
        "- 25 orders per page\n- Page loads in under 500 ms with 1,000 orders",
        "medium",
        ["performance", "frontend"],
    ),
    (
        "Rate-limit the login endpoint",
        "Credential stuffing attempts show up in the logs every night.",
        "- At most 10 attempts per IP per minute\n- 429 with a Retry-After header",
        "high",
        ["security", "auth"],
    ),
    (
        "Upgrade PostgreSQL client library",
        "psycopg 2 is end of life for us; move to psycopg 3.",
        "- All tests pass on psycopg 3\n- Connection pooling settings unchanged",
        "low",
        ["tech-debt", "backend"],
    ),
    (
        "Show stock level on product pages",
        "Support gets daily questions about whether an item is in stock.",
        "- 'In stock', 'Only N left' (N < 5) or 'Out of stock'\n- Updates within a minute",
        "medium",
        ["feature", "frontend"],
    ),
    (
        "Flaky test: test_cart_merge_on_login",
        "Fails about one run in twenty on CI, always on the timestamp comparison.",
        "- Test passes 200 runs in a row\n- Root cause noted in the fix",
        "medium",
        ["bug", "ci"],
    ),
    (
        "Document the webhook payloads",
        "Partners keep asking what fields order.updated carries.",
        "- Every webhook event documented with an example\n- Linked from the API docs",
        "low",
        ["docs"],
    ),
    (
        "Cache category listings",
        "Category pages hit the database with the same query on every view.",
        "- Listings cached for 5 minutes, invalidated on product change\n- Hit rate on dashboard",
        "medium",
        ["performance", "backend"],
    ),
    (
        "Add Apple Pay to checkout",
        "Mobile Safari users abandon checkout at the card form.",
        "- Apple Pay button on supported devices\n- Refunds work the same as card payments",
        "high",
        ["feature", "checkout"],
    ),
    (
        "Images are not lazy-loaded",
        "The home page downloads 6 MB of images before first paint.",
        "- Below-the-fold images load lazily\n- Lighthouse performance score above 85",
        "medium",
        ["performance", "frontend"],
    ),
    (
        "Set up error tracking alerts",
        "We find production errors from customer emails rather than alerts.",
        "- New error types alert the on-call channel\n- Alert noise below 5 per day",
        "high",
        ["ops"],
    ),
    (
        "Session cookie missing SameSite attribute",
        "Flagged by the last security scan.",
        "- Session and CSRF cookies set SameSite=Lax and Secure",
        "high",
        ["security"],
    ),
    (
        "Export orders as CSV for accounting",
        "Accounting copies orders by hand into their spreadsheet every month.",
        "- CSV with one row per order line\n- Date range filter\n- Amounts in minor units",
        "medium",
        ["feature", "backend"],
    ),
    (
        "Translate checkout into German",
        "Germany is our second market and checkout is English only.",
        "- All checkout strings translated\n- Prices and dates formatted for de-DE",
        "medium",
        ["i18n", "checkout"],
    ),
    (
        "Remove the legacy coupon service",
        "Coupons moved to the pricing service a year ago; the old one still runs.",
        "- No traffic to the old service for 2 weeks\n- Service, DNS and database removed",
        "low",
        ["tech-debt"],
    ),
    (
        "Search ignores accents",
        "Searching 'creme' does not find 'crème brûlée'.",
        "- Accent-insensitive matching\n- Results ranked the same as before otherwise",
        "medium",
        ["bug", "search"],
    ),
    (
        "Add health check for the payment gateway",
        "When the gateway is down we only notice from failed orders.",
        "- /health reports the gateway\n- The load balancer keeps serving pages regardless",
        "medium",
        ["ops", "backend"],
    ),
    (
        "Keyboard navigation in the product gallery",
        "The gallery cannot be used without a mouse (accessibility audit, item 14).",
        "- Arrow keys move between images\n- Focus is visible\n- Screen reader labels",
        "medium",
        ["accessibility", "frontend"],
    ),
    (
        "Nightly database backup verification",
        "Backups run, but nobody has tried restoring one since March.",
        "- A nightly job restores the latest backup into a scratch database\n- Alerts on failure",
        "high",
        ["ops"],
    ),
    (
        "Wishlist sharing",
        "Customers ask to share wishlists with family before birthdays.",
        "- A share link shows the wishlist read-only\n- The owner can revoke the link",
        "low",
        ["feature"],
    ),
    (
        "Order confirmation email shows wrong tax",
        "VAT is computed on the pre-discount price in the email only.",
        "- The email matches the invoice to the cent\n- Test with a discount and VAT",
        "critical",
        ["bug", "checkout"],
    ),
    (
        "Split the monolith's settings file",
        "settings.py is 1,400 lines and every deploy touches it.",
        "- Settings grouped by concern\n- No behaviour change (diff of resolved settings empty)",
        "low",
        ["tech-debt", "backend"],
    ),
    (
        "Add dark mode",
        "Most requested feature in the last survey.",
        "- Follows the system setting\n- Contrast ratios meet WCAG AA",
        "low",
        ["feature", "frontend"],
    ),
    (
        "API: return 404 instead of 500 for unknown order ids",
        "GET /orders/abc crashes with a ValueError.",
        "- Non-numeric and unknown ids return 404 with the error envelope",
        "high",
        ["bug", "api"],
    ),
    (
        "Write the runbook for a payment outage",
        "The last outage took 40 minutes to diagnose.",
        "- Steps to confirm, mitigate and communicate\n- Reviewed by on-call",
        "medium",
        ["docs", "ops"],
    ),
    (
        "Reduce Docker image size",
        "The app image is 1.9 GB; deploys spend most of their time pulling it.",
        "- Multi-stage build\n- Image under 400 MB",
        "low",
        ["ops", "tech-debt"],
    ),
    (
        "Track add-to-cart events",
        "Marketing cannot see which products are added but not bought.",
        "- Event with product id and price\n- No personal data in the event",
        "medium",
        ["analytics", "frontend"],
    ),
]

COMMENTS = {
    "start": [
        "Picking this up.",
        "Starting on this now; will push a draft PR today.",
        "On it. Looks like the fix is in the serializer.",
    ],
    "review": [
        "Ready for review: PR is up with tests.",
        "Done on my side, deployed to staging for testing.",
        "Implemented; edge cases listed in the PR description.",
    ],
    "done": [
        "Verified on staging, merging.",
        "Checked the acceptance criteria, all good.",
        "Looks good. Closing.",
    ],
    "backlog": [
        "Do we have numbers on how often this happens?",
        "Customer support flagged this again this week.",
        "Can we split this into smaller tickets?",
        "Blocked until we agree on the design.",
    ],
}


class Command(BaseCommand):
    help = "Create realistic demo boards: tickets, comments and history by people and an agent."

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
        try:
            people, agent = self._people()
            made = [self._board(rng, index, tickets, people, agent) for index in range(boards)]
        except DomainError as error:
            raise CommandError(error.message) from error
        history = TicketHistory.objects.filter(board__in=made).count()
        names = ", ".join(f"{board.name!r} (id {board.pk})" for board in made)
        self.stdout.write(self.style.SUCCESS(f"Seeded {names}: {history} history rows in all."))

    # ---------------------------------------------------------------- actors

    def _people(self):
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
        return people, agent

    # ---------------------------------------------------------------- boards

    def _board(self, rng: random.Random, index: int, count: int, people, agent) -> Board:
        name, description = PROJECTS[index % len(PROJECTS)]
        taken = Board.objects.filter(name__startswith=name).count()
        owner = people[0]
        board = board_create(
            actor=owner,
            name=f"{name} #{taken + 1}" if taken else name,
            description=description,
            columns=COLUMNS,
        )
        # Limits a busy team would set: tight enough to bite now and then.
        wip_limits = {"In Progress": max(4, count // 5), "Testing": max(3, count // 8)}
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
        for person, role in [
            *((person, Role.MEMBER) for person in people[1:]),
            (agent, Role.AGENT),
        ]:
            membership_set(actor=owner, board_id=board.pk, user_id=person.pk, role=role)
        created = []
        # On stdout, beside the seeding report (nothing here is meant for a pipe).
        with command_progress(
            self, board.name, count, unit="tickets", verbosity=self.verbosity, stream=self.stdout
        ) as progress:
            for number in range(count):
                created.append(self._ticket(rng, board, number, people, agent, created))
                progress.update(number + 1)
        return board

    def _ticket(self, rng: random.Random, board: Board, number: int, people, agent, earlier):
        title, description, criteria, priority, labels = TICKETS[number % len(TICKETS)]
        if number >= len(TICKETS):
            title = f"{title} (part {number // len(TICKETS) + 1})"
        maria, jonas = people
        assignee = rng.choice([None, jonas, agent, agent, maria])
        ticket = ticket_create(
            actor=rng.choice([maria, maria, jonas, agent]),
            board_id=board.pk,
            title=title,
            description=description,
            acceptance_criteria=criteria,
            priority=priority,
            labels=labels,
            assignee=assignee.username if assignee else None,
        )
        if earlier and rng.random() < 0.12:
            ticket_add_dependency(
                actor=maria, ticket_id=ticket.pk, blocked_by_id=rng.choice(earlier).pk
            )
        if rng.random() < 0.2:
            ticket_update(actor=maria, ticket_id=ticket.pk, priority=rng.choice(["high", "low"]))
        stage = rng.choices([0, 1, 2, 3], weights=[30, 15, 10, 45])[0]
        worker = assignee if assignee in (jonas, agent) else jonas
        try:
            self._work(rng, ticket.pk, stage, worker, reviewer=maria, agent=agent)
        except Conflict as error:
            # A full column or an unfinished blocker: the card stays where it got to,
            # as it would on a real board.
            if error.code not in {"wip_limit", "blocked"}:
                raise
        return ticket

    def _work(self, rng: random.Random, ticket_id: int, stage: int, worker, reviewer, agent):
        if stage == 0:
            if rng.random() < 0.4:
                self._comment(rng, ticket_id, "backlog", rng.choice([reviewer, worker]))
            return
        if worker == agent:
            ticket_claim(actor=agent, ticket_id=ticket_id)
        try:
            ticket_move(actor=worker, ticket_id=ticket_id, column="In Progress")
        except Conflict:
            if worker == agent:
                ticket_release(actor=agent, ticket_id=ticket_id)
            raise
        self._comment(rng, ticket_id, "start", worker)
        if stage == 1:
            return
        ticket_move(actor=worker, ticket_id=ticket_id, column="Testing")
        if worker == agent:
            ticket_release(actor=agent, ticket_id=ticket_id)
        self._comment(rng, ticket_id, "review", worker)
        if stage == 2:
            return
        ticket_move(actor=reviewer, ticket_id=ticket_id, column="Done")
        self._comment(rng, ticket_id, "done", reviewer)

    def _comment(self, rng: random.Random, ticket_id: int, kind: str, author) -> None:
        comment_create(actor=author, ticket_id=ticket_id, text=rng.choice(COMMENTS[kind]))
