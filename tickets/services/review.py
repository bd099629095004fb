"""Reviews: the one way a ticket leaves a column that requires review forward.

Approving moves the ticket to the column after the review column; requesting changes
moves it back to the column before, ends any claim on it (so it is claimable again) and
keeps its assignee. Both go through the one move rule (`moves.move_tickets`, whose WIP
limit still applies), are recorded in history (field `review`: the review column's name
→ "approved" or "changes requested") and are one `ticket_reviewed` event: the ticket,
`from_column`, `decision`, `comment` and `reviewer`.

Who may review: anyone with write rights on the board but the ticket's current
claimant and whoever moved it into the review column (403 `self_review`); on a board
whose `review_by` is "humans", no agent (403 `humans_review`). A board admin may review
their own work with `override`, which the audit log keeps.

The reviewer's comment is written by `comments.reviews.ticket_review_with_comment`, in
the same transaction: comments sit above tickets."""

from django.db import transaction

from audit.services import audit_record
from boards.access import ADMIN, require_board
from boards.models import Board
from core import clock
from core.errors import Conflict, Forbidden
from core.transactions import retry_once_on_deadlock
from tickets import rules
from tickets.models import Ticket
from tickets.services._writes import (
    diffs,
    is_board_admin,
    label_names,
    record,
    ticket_for_write,
    tracked_values,
)
from tickets.services.moves import announce_arrivals, move_tickets
from tickets.services.placement import board_columns
from tickets.signals import TicketChange

# A decision and how history writes it.
DECISIONS = {"approve": "approved", "request_changes": "changes requested"}
HUMANS = "humans"


def clean_decision(decision) -> str:
    if decision not in DECISIONS:
        raise rules.invalid("decision", f"Must be one of {', '.join(DECISIONS)}.")
    return decision


def clean_review_comment(decision: str, comment) -> str:
    """The reviewer's comment: required to request changes, optional to approve."""
    if comment is None:
        comment = ""
    if not isinstance(comment, str):
        raise rules.invalid("comment", "Must be text.")
    if decision == "request_changes" and not comment.strip():
        raise rules.invalid(
            "comment", "Say what should change: requesting changes needs a comment."
        )
    return comment


@retry_once_on_deadlock
def ticket_review(
    *,
    actor,
    ticket_id: int,
    decision: str,
    comment: str | None = None,
    override: bool = False,
    expected_version: int | None = None,
) -> Ticket:
    """Approve the ticket waiting in a review column, or request changes to it (see the
    module's docstring). 409 `not_in_review` for a ticket in a column that does not
    require review; `override` is for board admins only (403 otherwise)."""
    decision = clean_decision(decision)
    comment = clean_review_comment(decision, comment)
    if not isinstance(override, bool):
        raise rules.invalid("override", "Must be true or false.")
    with transaction.atomic():
        # The claim guard stays off: reviewing a ticket someone holds is the point.
        ticket = ticket_for_write(ticket_id, expected_version, actor, claim_guard=False)
        if override:
            require_board(actor, ticket.board_id, ADMIN)
        source = ticket.column
        if not source.requires_review:
            raise Conflict(
                f"Ticket {ticket_id} is in {source.name!r}, which does not require review: "
                "there is nothing to review.",
                code="not_in_review",
            )
        now = clock.now()
        overrode = _ensure_may_review(actor, ticket, now=now, override=override)
        target = _next_column(ticket, source, step=1 if decision == "approve" else -1)
        old = tracked_values(ticket, label_names(ticket))
        [move] = move_tickets(
            actor=actor,
            tickets=[ticket],
            column=target.name,
            now=now,
            approval=decision == "approve",
        )
        if decision == "request_changes" and ticket.claimed_by_id:
            # Back to work, for whoever claims it next (its assignee stays).
            ticket.claimed_by, ticket.claimed_at, ticket.lease_expires_at = None, None, None
            ticket.claim_token = None
        changed = {
            **diffs(old, tracked_values(ticket, label_names(ticket))),
            **move.diffs(),
            "review": (source.name, DECISIONS[decision]),
        }
        if overrode:
            changed["review_override"] = (None, "own work, by a board admin")
        ticket.version += 1
        ticket.updated_at = now
        ticket.save()
        record(
            actor=actor,
            board_id=ticket.board_id,
            at=now,
            changes=[TicketChange(ticket.pk, "moved", changed)],
            event="ticket_reviewed",
            payload={
                **move.payload(),
                "decision": decision,
                "comment": comment or None,
                "reviewer": actor.username,
            },
        )
        announce_arrivals(actor=actor, moves=[move])
        if overrode:
            audit_record(
                actor=actor,
                action="review.override",
                board_id=ticket.board_id,
                target_type="ticket",
                target_id=ticket.pk,
                details={"column": source.name, "decision": decision},
            )
    return ticket


def review_obstacle(actor, ticket: Ticket, *, review_by: str, now) -> tuple[str, str] | None:
    """Why `actor` may not review `ticket` (a code and the reason), or None: on a board
    whose `review_by` is "humans" agents may not (`humans_review`); nobody reviews their
    own work (`self_review`: they hold its claim, or moved it into review)."""
    if review_by == HUMANS and getattr(actor, "is_agent", False):
        return (
            "humans_review",
            f"On board {ticket.board_id} only people review: an agent may not approve or "
            "request changes.",
        )
    own = []
    if ticket.active_claimant_id(now) == actor.pk:
        own.append("you hold its claim")
    if ticket.review_requested_by_id == actor.pk:
        own.append("you moved it into review")
    if own:
        return "self_review", f"{' and '.join(own).capitalize()}: someone else reviews it."
    return None


def board_review_by(board_id: int) -> str:
    return Board.objects.filter(pk=board_id).values_list("review_by", flat=True).first()


def _ensure_may_review(actor, ticket: Ticket, *, now, override: bool) -> bool:
    """Refuse a reviewer the rules do not allow; True when a board admin's `override`
    let them review their own work."""
    obstacle = review_obstacle(actor, ticket, review_by=board_review_by(ticket.board_id), now=now)
    if obstacle is None:
        return False
    code, reason = obstacle
    if code == "self_review" and override:
        return True
    hint = (
        ' As a board admin you may pass "override": true, which is audited.'
        if code == "self_review" and is_board_admin(actor, ticket.board_id)
        else ""
    )
    raise Forbidden(f"You may not review ticket {ticket.pk}. {reason}{hint}", code=code)


def _next_column(ticket: Ticket, source, *, step: int):
    columns = board_columns(ticket.board_id)
    index = next(i for i, column in enumerate(columns) if column.pk == source.pk) + step
    if not 0 <= index < len(columns):
        where = "after" if step > 0 else "before"
        raise Conflict(
            f"Column {source.name!r} has no column {where} it to send ticket {ticket.pk} to.",
            code="no_column",
        )
    return columns[index]
