"""What the board templates compute: a card's context (shared by the page and the card
fragment), safe Markdown, label colours and short durations."""

import zlib
from datetime import datetime
from html import escape

import markdown as markdown_lib
import nh3
from django import template
from django.utils.safestring import SafeString, mark_safe

from tickets.models import Ticket
from tickets.selectors import prefetched

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


def card_context(ticket: Ticket, now: datetime, colour: dict | None = None) -> dict:
    """Everything the card template shows, from a ticket of `ticket_queryset()`
    (no further queries: its labels and blockers are prefetched) and, for a ticket in
    a working column, its age colour from `stats.selectors.board_ticket_colors`.
    Numbers and times
    arrive as text: a board renders a thousand of these, and Django's number
    formatting would otherwise be most of the page's cost."""
    claim = None
    if ticket.active_claimant_id(now) is not None:
        claim = {
            "holder": ticket.claimed_by.username,
            "is_agent": ticket.claimed_by.is_agent,
            "until": ticket.lease_expires_at.isoformat(),
            "left": short_duration((ticket.lease_expires_at - now).total_seconds()),
        }
    blockers = sorted(prefetched(ticket, "blocked_by"), key=_pk)
    labels = [label.name for label in prefetched(ticket, "labels")]
    last_column_id = getattr(ticket, "last_column_id", None)
    assignee = ticket.assignee.username if ticket.assignee_id else None
    return {
        "ticket": ticket,
        "id": str(ticket.pk),
        "board_id": str(ticket.board_id),
        "column_id": str(ticket.column_id),
        "version": str(ticket.version),
        "priority": ticket.priority_name,
        "labels": [(name, str(hue(name))) for name in labels],
        "label_names": labels,
        "assignee": assignee,
        "assignee_hue": str(hue(assignee)) if assignee else "",
        "assignee_initials": initials(assignee) if assignee else "",
        "claim": claim,
        "blockers": ", ".join(f"#{blocker.pk}" for blocker in blockers),
        "is_blocked": any(blocker.column_id != last_column_id for blocker in blockers),
        "entered": ticket.column_entered_at.isoformat(),
        "age": short_duration((now - ticket.column_entered_at).total_seconds()),
        "age_colour": (colour or {}).get("color") or "",
        "age_reason": (colour or {}).get("reason") or "Time in this column",
    }


def _pk(ticket: Ticket) -> int:
    return ticket.pk


def card_html(card: dict) -> str:
    """One card's markup, from a `card_context`. Plain Python rather than a template: a
    board renders thousands, and a template costs ~0.6 ms a card. `html.escape` is what
    Django's autoescaping does. No whitespace between the tags: the card's rows are
    blocks and flex boxes, where it shows nothing, and 5,000 cards carried 300 KB of it."""
    priority = escape(card["priority"])
    claim = card["claim"]
    classes = priority
    if card["is_blocked"]:
        classes += " is-blocked"
    if claim:
        classes += " is-claimed"
    card_id = card["id"]
    blocked = (
        f'<span class="badge badge-blocked" title="Blocked by {escape(card["blockers"])}">'
        "Blocked</span>"
        if card["is_blocked"]
        else ""
    )
    age_class = f" age-{escape(card['age_colour'])}" if card["age_colour"] else ""
    labels = ""
    if card["labels"]:
        items = "".join(
            f'<li class="label" style="--h: {label_hue}">{escape(name)}</li>'
            for name, label_hue in card["labels"]
        )
        labels = f'<ul class="labels" aria-label="Labels">{items}</ul>'
    foot = ""
    assignee = card["assignee"]
    if assignee or claim:
        claim_html = ""
        if claim:
            holder = escape(claim["holder"])
            agent_class, agent_note = (" is-agent", " (agent)") if claim["is_agent"] else ("", "")
            claim_html = (
                f'<span class="badge badge-claim{agent_class}" title="Claimed by {holder}'
                f'{agent_note}; the lease runs out unless renewed"><span class="claim-dot" '
                f'aria-hidden="true"></span><span class="claim-holder">{holder}</span> · '
                f'<time datetime="{escape(claim["until"])}" data-until>'
                f"{escape(claim['left'])}</time> left</span>"
            )
        assignee_html = ""
        if assignee:
            name = escape(assignee)
            assignee_html = (
                f'<span class="assignee" title="Assigned to {name}"><span class="avatar" '
                f'style="--h: {card["assignee_hue"]}" aria-hidden="true">'
                f'{escape(card["assignee_initials"])}</span><span class="assignee-name">'
                f"{name}</span></span>"
            )
        foot = f'<div class="card-foot">{claim_html}{assignee_html}</div>'
    ticket = card["ticket"]
    return (
        f'<article class="card prio-{classes}" id="card-{card_id}" data-card '
        f'data-id="{card_id}" data-version="{card["version"]}" '
        f'data-column-id="{card["column_id"]}" data-position="{ticket.position}" '
        'tabindex="0" aria-roledescription="card">'
        '<div class="card-top">'
        f'<span class="card-id">#{card_id}</span>'
        f'<span class="prio prio-{priority}" title="Priority: {priority}">{priority}</span>'
        f"{blocked}"
        f'<time class="card-age{age_class}" datetime="{escape(card["entered"])}" data-age '
        f'title="{escape(card["age_reason"])}">{escape(card["age"])}</time>'
        "</div>"
        f'<a class="card-title" href="/boards/{card["board_id"]}/?card={card_id}" '
        f'data-open-card draggable="false" tabindex="-1">{escape(ticket.title)}</a>'
        f"{labels}{foot}</article>\n"
    )


def cards_html(cards: list[dict]) -> SafeString:
    return mark_safe("".join(card_html(card) for card in cards))  # every value escaped above


@register.filter(name="local")
def local_filter(value) -> SafeString:
    """`{{ when|local }}`: a <time> shown in the viewer's time zone by the page script."""
    from web.templatetags.timeline import local_time

    return local_time(value)
