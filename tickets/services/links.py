"""Links from tickets to the branches, commits and pull/merge requests of a forge that
mention them. A new link, and a link whose title or state changed (a pull request
merged), is a change to the ticket like any other: history (`link`) and a
`ticket_updated` event for the board's watchers."""

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from core.transactions import retry_once_on_deadlock
from tickets import rules
from tickets.models import TicketLink
from tickets.services._writes import record, ticket_for_write, ticket_payload
from tickets.signals import TicketChange

URL_MAX = TicketLink._meta.get_field("url").max_length
TITLE_MAX = TicketLink._meta.get_field("title").max_length
STATE_MAX = TicketLink._meta.get_field("state").max_length
EXTERNAL_ID_MAX = TicketLink._meta.get_field("external_id").max_length


@dataclass(frozen=True)
class LinkSpec:
    """What a forge says about one of its branches, commits or pull/merge requests."""

    kind: str
    url: str
    forge: str
    title: str = ""
    state: str = ""
    external_id: str = ""


def clean_link(spec: LinkSpec) -> LinkSpec:
    """`spec` if it can be stored and shown: a known kind, an http(s) URL (anything else
    could run script where the card shows it), values that fit."""
    if spec.kind not in TicketLink.Kind.values:
        raise rules.invalid("kind", f"Must be one of {', '.join(TicketLink.Kind.values)}.")
    parts = urlsplit(spec.url) if isinstance(spec.url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise rules.invalid("url", "Must be an http or https URL.")
    if len(spec.url) > URL_MAX:
        raise rules.invalid("url", f"At most {URL_MAX} characters.")
    for field, maximum in (("title", TITLE_MAX), ("state", STATE_MAX)):
        if len(getattr(spec, field)) > maximum:
            raise rules.invalid(field, f"At most {maximum} characters.")
    if len(spec.external_id) > EXTERNAL_ID_MAX or not spec.forge or len(spec.forge) > 10:
        raise rules.invalid("external_id", "Too long.")
    return spec


def link_text(link: TicketLink | LinkSpec) -> str:
    """A link as its history shows it."""
    name = link.kind.replace("_", " ")
    title = f" “{link.title}”" if link.title else ""
    state = f" ({link.state})" if link.state else ""
    return f"{name} {link.url}{title}{state}"


@retry_once_on_deadlock
def ticket_link(*, actor, ticket_id: int, spec: LinkSpec) -> tuple[TicketLink, str | None]:
    """Link the ticket to what `spec` describes, or bring its link (one per URL) up to
    date. Returns the link and what happened: "linked", "updated", or None when the link
    was already so. A claim on the ticket does not stop it: whoever holds the claim is
    usually who opened the pull request."""
    spec = clean_link(spec)
    with transaction.atomic():
        ticket = ticket_for_write(ticket_id, None, actor, claim_guard=False)
        now = timezone.now()
        link = TicketLink.objects.filter(ticket_id=ticket.pk, url=spec.url).first()
        old_text = None
        if link is None:
            link = TicketLink(ticket_id=ticket.pk, url=spec.url, created_at=now)
            happened = "linked"
        elif (link.title, link.state) == (spec.title, spec.state):
            return link, None
        else:
            old_text, happened = link_text(link), "updated"
        link.kind, link.forge, link.external_id = spec.kind, spec.forge, spec.external_id
        link.title, link.state, link.updated_at = spec.title, spec.state, now
        link.save()
        # The representation reads the links again, with this one.
        ticket.has_links = True
        getattr(ticket, "_prefetched_objects_cache", {}).pop("links", None)
        record(
            actor=actor,
            board_id=ticket.board_id,
            at=now,
            changes=[TicketChange(ticket.pk, "updated", {"link": (old_text, link_text(link))})],
            event="ticket_updated",
            payload=ticket_payload(ticket),
        )
    return link, happened
