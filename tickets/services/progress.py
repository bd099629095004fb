"""What an agent is doing now: its claim's latest progress report ("running the test
suite", 60 %). Shown on the card and in the ticket while that claim lasts; a report is
an event (`ticket_progress`), not history, and one ticket takes at most one report per
`PROGRESS_MIN_INTERVAL_SECONDS`, so a chatty agent cannot flood the board's watchers."""

import math

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from boards.events import event_append
from core.errors import Conflict, TooFrequent
from core.transactions import retry_once_on_deadlock
from tickets import rules
from tickets.models import Ticket
from tickets.representation import progress_shown, report_of_claim
from tickets.services._writes import ticket_for_write

STATUS_MAX = 200


@retry_once_on_deadlock
def ticket_report_progress(
    *,
    actor,
    ticket_id: int,
    status: str,
    percent: int | None = None,
    claim_token: str | None = None,
) -> Ticket:
    """Set the latest report of the claim `actor` holds on the ticket. Only its claimant
    may report (409 `not_claimant`); too soon after the last report, 429 `rate_limited`
    with how long to wait."""
    status = _clean_status(status)
    percent = _clean_percent(percent)
    with transaction.atomic():
        ticket = ticket_for_write(
            ticket_id, None, actor, claim_guard=False, claim_token=claim_token
        )
        now = timezone.now()
        if ticket.active_claimant_id(now) != actor.pk:
            # A state of the ticket, as `claimed` is for an edit by someone else: 409.
            raise Conflict(
                f"Only the agent holding ticket {ticket_id}'s claim reports its progress.",
                code="not_claimant",
            )
        interval = settings.PROGRESS_MIN_INTERVAL_SECONDS
        if report_of_claim(ticket) and (now - ticket.progress_at).total_seconds() < interval:
            wait = math.ceil(interval - (now - ticket.progress_at).total_seconds())
            raise TooFrequent(
                f"Ticket {ticket_id} had a progress report less than {interval} s ago.",
                retry_after=max(wait, 1),
            )
        # The version stays, as for a heartbeat: a report must not make the holder's own
        # pending edit stale.
        Ticket.objects.filter(pk=ticket.pk).update(
            progress_status=status, progress_percent=percent, progress_at=now
        )
        ticket.progress_status, ticket.progress_percent, ticket.progress_at = status, percent, now
        event_append(
            board_id=ticket.board_id,
            type="ticket_progress",
            payload={"id": ticket.pk, **progress_shown(ticket, now)},
            actor=actor,
        )
    return ticket


def _clean_status(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise rules.invalid("status", "Say what you are doing, in at most 200 characters.")
    value = value.strip()
    if len(value) > STATUS_MAX or "\x00" in value:
        raise rules.invalid("status", f"At most {STATUS_MAX} characters, no NUL characters.")
    return value


def _clean_percent(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise rules.invalid("percent", "A whole number from 0 to 100, or left out.")
    return value
