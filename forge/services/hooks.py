"""A forge's delivery to a board's hook: proved, read, and acted on in one transaction.

The delivery links each ticket of the board it mentions (a comment says so), and when
it says a pull request opened or merged and the board has a rule for that, moves the
ticket forward to the rule's column through the one move service, so WIP limits, other
agents' claims and review gates hold; a move they refuse becomes a comment on the
ticket. The delivery's id is stored in the same transaction: the same delivery again
does nothing."""

import json
import re
from collections.abc import Mapping
from datetime import timedelta
from urllib.parse import parse_qs

from django.db import IntegrityError, transaction
from django.utils import timezone

from boards.access import WRITE, can
from boards.models import Column
from comments.services import comment_create
from core.errors import Conflict, DomainError, InvalidInput
from core.ids import is_id
from core.transactions import retry_once_on_deadlock
from forge.models import ForgeDelivery, ForgeSettings
from forge.payloads import (
    MERGED,
    OPENED,
    Delivery,
    Found,
    Ignored,
    delivery_id,
    event_name,
    mentioned,
    read_delivery,
)
from forge.rules import DELIVERY_KEEP_DAYS, FORGE_NAMES, TICKETS_MAX
from forge.selectors import forge_settings_of
from forge.services.identity import forge_identity
from forge.signatures import is_signed
from tickets.models import Ticket
from tickets.services import LinkSpec, ticket_link, ticket_move

# Links one delivery makes at most (a push of many commits mentioning many tickets).
LINKS_MAX = 50


class BadSignature(DomainError):
    status = 401
    code = "bad_signature"


def hook_receive(
    *, forge: str, board_id: int, headers: Mapping[str, str], body: bytes, content_type: str = ""
) -> dict:
    """Act on one delivery of `forge` to the hook of board `board_id`; answers what it
    did. A board that does not exist answers as one without a secret for this forge
    does (401), so the hook tells a stranger nothing about which boards exist."""
    settings = forge_settings_of(board_id) if is_id(board_id) else ForgeSettings()
    if not is_signed(forge, headers=headers, secret=settings.secret_of(forge), body=body):
        raise BadSignature(
            f"This request is not signed with the board's {FORGE_NAMES[forge]} secret."
        )
    payload = _parsed(body, content_type)
    event = event_name(forge, headers)
    try:
        delivery = read_delivery(forge, event, payload)
    except Ignored as why:
        return {"ignored": str(why), "event": event}
    wanted = _tickets_wanted(board_id, delivery.found)
    if not wanted:
        return {"ignored": "it mentions no ticket of this board", "event": event}
    actor = forge_identity()
    if not can(actor, board_id, WRITE):
        raise Conflict(
            f"The {actor.username!r} identity may not write on board {board_id}: a board "
            "admin saves the board's forge settings again to make it an agent there.",
            code="forge_not_member",
        )
    return _act(
        actor=actor,
        forge=forge,
        settings=settings,
        delivery=delivery,
        wanted=wanted,
        delivery_id=delivery_id(forge, headers, body),
    )


def _parsed(body: bytes, content_type: str):
    """The JSON body, or the `payload` field of a form (GitHub's and Gitea's other
    content type)."""
    try:
        if content_type.split(";")[0].strip() == "application/x-www-form-urlencoded":
            body = parse_qs(body.decode(), max_num_fields=10).get("payload", [""])[0].encode()
        payload = json.loads(body)
        # Half a surrogate pair decodes, but no database stores it: refuse it here.
        json.dumps(payload, ensure_ascii=False).encode()
        return payload
    except (ValueError, RecursionError):
        raise InvalidInput("The body is not valid JSON.", code="malformed_json") from None


def _tickets_wanted(board_id: int, found: list[Found]) -> list[tuple[Found, list[int]]]:
    """Each thing the delivery names with the tickets of the board it mentions."""
    mentions = [(item, mentioned(item.texts)) for item in found]
    numbers = {number for _, numbers in mentions for number in numbers}
    on_board = set(
        Ticket.objects.filter(board_id=board_id, pk__in=numbers).values_list("pk", flat=True)
    )
    wanted, tickets = [], set()
    for item, numbers in mentions:
        mine = []
        for number in numbers:
            if number in on_board and (number in tickets or len(tickets) < TICKETS_MAX):
                tickets.add(number)
                mine.append(number)
        if mine:
            wanted.append((item, mine))
    return wanted


@retry_once_on_deadlock
def _act(
    *,
    actor,
    forge: str,
    settings: ForgeSettings,
    delivery: Delivery,
    wanted: list[tuple[Found, list[int]]],
    delivery_id: str,
) -> dict:
    board_id = settings.board_id
    summary: dict = {"delivery_id": delivery_id, "event": delivery.event}
    summary |= {"linked": [], "updated": [], "moved": [], "refused": []}
    now = timezone.now()
    with transaction.atomic():
        try:
            with transaction.atomic():
                seen = ForgeDelivery.objects.create(
                    board_id=board_id,
                    forge=forge,
                    delivery_id=delivery_id,
                    event=delivery.event,
                    received_at=now,
                )
        except IntegrityError:
            return {**_earlier(board_id, forge, delivery_id), "replayed": True}
        # Every ticket it touches, locked in id order first, as the bulk writes do: two
        # deliveries (or a delivery and a bulk move) never wait for each other in a circle.
        present = _lock_tickets(board_id, sorted({pk for _, pks in wanted for pk in pks}))
        links = 0
        for item, ticket_ids in wanted:
            for ticket_id in [pk for pk in ticket_ids if pk in present]:
                if links == LINKS_MAX:
                    summary["truncated"] = True
                    break
                links += 1
                _link(actor, forge, item, ticket_id, summary)
                column = _rule_column(settings, item)
                if column is not None:
                    _move(actor, forge, item, ticket_id, column, summary)
        seen.summary = summary
        seen.save(update_fields=["summary"])
        ForgeDelivery.objects.filter(
            board_id=board_id, received_at__lt=now - timedelta(days=DELIVERY_KEEP_DAYS)
        ).delete()
    return summary


def _earlier(board_id: int, forge: str, delivery_id: str) -> dict:
    found = ForgeDelivery.objects.filter(board_id=board_id, forge=forge, delivery_id=delivery_id)
    return found.values_list("summary", flat=True).first() or {"delivery_id": delivery_id}


def _lock_tickets(board_id: int, ticket_ids: list[int]) -> set[int]:
    """Lock the tickets; the ones still there (one deleted meanwhile is left out)."""
    locked = (
        Ticket.objects.select_for_update(no_key=True)
        .filter(pk__in=ticket_ids, board_id=board_id)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return set(locked)


def _rule_column(settings: ForgeSettings, item: Found) -> Column | None:
    if item.transition == OPENED:
        return settings.on_pr_opened
    if item.transition == MERGED:
        return settings.on_pr_merged
    return None


def _link(actor, forge: str, item: Found, ticket_id: int, summary: dict) -> None:
    spec = LinkSpec(
        kind=item.kind,
        url=item.url,
        forge=forge,
        title=item.title,
        state=item.state,
        external_id=item.external_id,
    )
    _, happened = ticket_link(actor=actor, ticket_id=ticket_id, spec=spec)
    if happened is None:
        return
    comment_create(actor=actor, ticket_id=ticket_id, text=_link_comment(forge, item, happened))
    summary[happened].append({"ticket_id": ticket_id, "kind": item.kind, "url": item.url})


def _move(actor, forge: str, item: Found, ticket_id: int, column: Column, summary: dict) -> None:
    """Move the ticket to `column` if it is not there or beyond yet: a rule moves work
    forward, never back (a follow-up pull request leaves a finished ticket finished)."""
    position = (
        Ticket.objects.filter(pk=ticket_id).values_list("column__position", flat=True).first()
    )
    if position is None or position >= column.position:
        return
    try:
        ticket_move(actor=actor, ticket_id=ticket_id, column=column.name)
    except DomainError as refused:
        what = f"{FORGE_NAMES[forge]} {_name(item)} {item.transition}"
        comment_create(
            actor=actor,
            ticket_id=ticket_id,
            text=f"{what}, but this ticket could not move to **{_md(column.name)}**: "
            f"{_md(refused.message)}",
        )
        summary["refused"].append(
            {
                "ticket_id": ticket_id,
                "column": column.name,
                "code": refused.code,
                "message": refused.message,
            }
        )
        return
    summary["moved"].append({"ticket_id": ticket_id, "column": column.name})


# ---------------------------------------------------------------- comments


MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>])")


def _md(text: str) -> str:
    """`text` shown as itself in a Markdown comment: a title cannot make a link or markup."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _name(item: Found) -> str:
    kind = item.kind.replace("_", " ")
    if item.kind in ("pull_request", "merge_request") and item.external_id:
        return f"{kind} {'!' if item.kind == 'merge_request' else '#'}{item.external_id}"
    if item.kind == "commit":
        return f"{kind} {item.external_id[:7]}"
    return kind


def _link_comment(forge: str, item: Found, happened: str) -> str:
    shown = f"[{_md(item.title or item.url)}]({item.url.replace(')', '%29')})"
    where = f"{FORGE_NAMES[forge]} {_name(item)}"
    if happened == "linked":
        state = f" ({item.state})" if item.kind in ("pull_request", "merge_request") else ""
        return f"Linked {where}: {shown}{state}."
    return f"{where} {shown} is now {item.state}."
