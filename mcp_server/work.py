"""What is ready to be claimed on a board, and waiting until something is: the rule is
`claim next`'s own (`tickets.services.claims.ready_tickets`, best first), read without
claiming, so an agent that waits and then claims can never be handed what another
waiting agent got."""

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime

from django.db.models import Min
from django.utils import timezone

from boards import access
from boards.events import board_last_seq, events_page
from core import groups
from mcp_server.feed import loop_feed
from mcp_server.shapes import task_briefs
from mcp_server.threads import on_mcp_threads
from tickets.models import Ticket
from tickets.selectors import ticket_queryset
from tickets.services.claims import ready_tickets, wanted_by
from tickets.services.placement import board_columns, column_named

READY_MAX = 20
WAIT_MAX_SECONDS = 300
LOOK_AGAIN_SECONDS = 5.0
# A lease is over when the clock passes it: look a moment after.
LAPSE_MARGIN_SECONDS = 0.05


def ready_now(actor, board_id: int, column: str | None = None, *, limit: int = READY_MAX) -> dict:
    """The tasks claim_next_task would hand `actor` next on the board (the first column,
    or `column`), best first, at most `limit`; the board's `last_seq`; and when the next
    live lease in that column runs out (`next_lapse`, an aware datetime or None), the
    moment its ticket may become ready without any event."""
    access.require_board(actor, board_id, access.READ)
    columns = board_columns(board_id)
    target = columns[0] if column is None else column_named(columns, column)
    now = timezone.now()
    last_seq = board_last_seq(board_id)
    ready = wanted_by(
        ready_tickets(column=target, last_column_id=columns[-1].pk, now=now), actor=actor
    )
    picked = list(ready.values_list("pk", flat=True)[:limit]) if limit else []
    shown = {ticket.pk: ticket for ticket in ticket_queryset().filter(pk__in=picked)}
    tasks = task_briefs(shown[pk] for pk in picked if pk in shown)
    lapse: datetime | None = Ticket.objects.filter(
        column=target, claimed_by__isnull=False, lease_expires_at__gt=now
    ).aggregate(next=Min("lease_expires_at"))["next"]
    return {
        "board_id": board_id,
        "column": target.name,
        "tasks": tasks,
        "last_seq": last_seq,
        "next_lapse": lapse,
    }


def board_events(actor, board_id: int, since: int, limit: int) -> dict:
    """The board's events after `since`, oldest first: the REST catch-up's page
    (`items`, `next_since`, `has_more`), for a board `actor` may read."""
    access.require_board(actor, board_id, access.READ)
    return events_page(board_id=board_id, since=since, limit=limit)


async def wait_until_ready(
    actor_of: Callable[[], object], board_id: int, column: str | None, timeout: float
) -> dict:
    """The first task ready for the caller on the board, as soon as there is one, or
    `{"task": None}` after `timeout` seconds. Woken by the board's events on the channel
    layer; a lapsing lease wakes it at its moment; and it looks again every
    `LOOK_AGAIN_SECONDS` in case a push was lost (Redis down). `actor_of` gives the
    caller afresh for each look, so a revoked token stops the wait."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    feed = loop_feed()
    woken = asyncio.Event()
    stop = feed.on_board(board_id, woken.set)
    try:
        async with feed.needing([groups.board_group_name(board_id)]):
            while True:
                woken.clear()
                look = await on_mcp_threads(_look)(actor_of, board_id, column)
                if look["tasks"]:
                    return {"task": look["tasks"][0], "last_seq": look["last_seq"]}
                left = deadline - loop.time()
                if left <= 0:
                    return {"task": None, "last_seq": look["last_seq"]}
                wait = min(left, LOOK_AGAIN_SECONDS)
                if look["next_lapse"] is not None:
                    until_lapse = (look["next_lapse"] - timezone.now()).total_seconds()
                    wait = min(wait, max(until_lapse, 0) + LAPSE_MARGIN_SECONDS)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), wait)
    finally:
        stop()


def _look(actor_of: Callable[[], object], board_id: int, column: str | None) -> dict:
    actor = actor_of()
    access.require_board(actor, board_id, access.WRITE)
    return ready_now(actor, board_id, column, limit=1)
