"""What the board templates compute: a card (shared by the page, the card fragments and
the card dialog) and its markup, safe Markdown, label colours and short durations."""

import zlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import markdown as markdown_lib
import nh3
from django import template
from django.template.loader import get_template
from django.utils.safestring import SafeString, mark_safe

from tickets.models import Ticket
from tickets.representation import progress_shown
from tickets.selectors import prefetched, subtask_counts

register = template.Library()

# Images would load from anywhere on the web; the board makes no outside requests.
MARKDOWN_TAGS = set(nh3.ALLOWED_TAGS) - {"img", "area", "map"}
MARKDOWN_EXTENSIONS = ["fenced_code", "tables", "sane_lists"]


def render_markdown(text: str) -> SafeString:
    """Markdown to HTML that keeps formatting and drops scripts, handlers and images."""
    html = markdown_lib.markdown(text or "", extensions=MARKDOWN_EXTENSIONS)
    cleaned = nh3.clean(
        html,
        tags=MARKDOWN_TAGS,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(cleaned)  # nh3 has just sanitised it


@register.filter(name="markdown")
def markdown_filter(text: str) -> SafeString:
    return render_markdown(text)


@register.filter
def hue(name: str) -> int:
    """A stable colour for a label or a person, so the same name always looks the same."""
    return zlib.crc32(name.encode()) % 360


@register.filter
def initials(username: str) -> str:
    parts = [part for part in username.replace("_", "-").replace(".", "-").split("-") if part]
    if len(parts) >= 2:
        return (parts[0][0] + parts[1][0]).upper()
    return username[:2].upper()


def short_duration(seconds: float) -> str:
    """5m, 3h, 2d: how long a card has sat in its column, at a glance."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return "now"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


@dataclass(slots=True)
class CardClaim:
    holder: str
    is_agent: bool
    until: str  # ISO 8601, shown in the viewer's time zone by the page script
    left: str
    progress: str  # what the holder reports doing now ("" when nothing)
    percent: int | None


@dataclass(slots=True)
class Card:
    """What a card shows: the cards template (`CARDS_TEMPLATE`) and the card dialog read
    these and nothing else."""

    id: int
    board_id: int
    column_id: int
    version: int
    position: str
    title: str
    priority: str
    labels: list[tuple[str, int]]  # name and hue
    label_names: list[str]
    assignee: str | None
    assignee_hue: int | None
    assignee_initials: str
    claim: CardClaim | None
    blockers: str
    is_blocked: bool
    entered: str
    age: str
    age_colour: str
    age_reason: str
    # Of its subtasks, (done, total): the progress bar of a parent; None without any.
    subtasks: tuple[int, int] | None
    # It waits in a column that requires review: only an approval moves it on.
    in_review: bool


def card_context(
    ticket: Ticket,
    now: datetime,
    colour: dict | None = None,
    review_column_ids: Collection[int] | None = None,
) -> Card:
    """The card of a ticket of `ticket_queryset()` (no further queries: its labels and
    blockers are prefetched) and, for a ticket in a working column, its age colour from
    `stats.selectors.board_ticket_colors`. `review_column_ids`, the board's columns that
    require review, spares a card of a list its column (else read from the ticket)."""
    in_review = (
        ticket.column_id in review_column_ids
        if review_column_ids is not None
        else ticket.column.requires_review
    )
    claim = None
    if ticket.active_claimant_id(now) is not None:
        progress = progress_shown(ticket, now)
        claim = CardClaim(
            holder=ticket.claimed_by.username,
            is_agent=ticket.claimed_by.is_agent,
            until=ticket.lease_expires_at.isoformat(),
            left=short_duration((ticket.lease_expires_at - now).total_seconds()),
            progress=progress["status"] or "",
            percent=progress["percent"],
        )
    blockers = sorted(prefetched(ticket, "blocked_by"), key=_pk)
    labels = [label.name for label in prefetched(ticket, "labels")]
    last_column_id = getattr(ticket, "last_column_id", None)
    assignee = ticket.assignee.username if ticket.assignee_id else None
    total, done = subtask_counts(ticket)
    return Card(
        id=ticket.pk,
        board_id=ticket.board_id,
        column_id=ticket.column_id,
        version=ticket.version,
        position=ticket.position,
        title=ticket.title,
        priority=ticket.priority_name,
        labels=[(name, hue(name)) for name in labels],
        label_names=labels,
        assignee=assignee,
        assignee_hue=hue(assignee) if assignee else None,
        assignee_initials=initials(assignee) if assignee else "",
        claim=claim,
        blockers=", ".join(f"#{blocker.pk}" for blocker in blockers),
        is_blocked=any(blocker.column_id != last_column_id for blocker in blockers),
        entered=ticket.column_entered_at.isoformat(),
        age=short_duration((now - ticket.column_entered_at).total_seconds()),
        age_colour=(colour or {}).get("color") or "",
        age_reason=(colour or {}).get("reason") or "Time in this column",
        subtasks=(done, total) if total else None,
        in_review=in_review,
    )


def _pk(ticket: Ticket) -> int:
    return ticket.pk


# Jinja2 rather than Django's engine for this one template: a board page renders
# thousands of cards, and Django's renderer costs ~60 µs a card (+50 % on a 5,000-card
# page, bench/README.md), Jinja2's compiled template a few.
CARDS_TEMPLATE = "web/boards/cards.jinja"


def render_cards(cards: Sequence[Card]) -> SafeString:
    """The cards' markup, from the one card template. The board page and the card
    fragments the live updates fetch both render their cards here."""
    html = get_template(CARDS_TEMPLATE, using="jinja2").render({"cards": cards})
    return mark_safe(html)  # autoescaped by the template


@register.filter(name="local")
def local_filter(value) -> SafeString:
    """`{{ when|local }}`: a <time> shown in the viewer's time zone by the page script."""
    from web.templatetags.timeline import local_time

    return local_time(value)
