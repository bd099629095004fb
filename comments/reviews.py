"""A review with the reviewer's comment: `tickets.services.ticket_review` moves the ticket
on (approve) or back (request changes), and the comment lands on the ticket in the same
transaction, so the agent that gets the ticket back reads why (`get_task`). The one
review service every surface calls; tickets cannot write comments themselves (comments
sit above them)."""

from django.db import transaction

from comments.rules import TEXT_MAX
from comments.services import comment_create
from core.errors import InvalidInput, field_error
from core.transactions import retry_once_on_deadlock
from tickets.models import Ticket
from tickets.services import ticket_review
from tickets.services.review import clean_decision, clean_review_comment


@retry_once_on_deadlock
def ticket_review_with_comment(
    *,
    actor,
    ticket_id: int,
    decision: str,
    comment: str | None = None,
    override: bool = False,
    expected_version: int | None = None,
) -> Ticket:
    """Review the ticket (`ticket_review`: approve or request_changes, `override` for a
    board admin's own work) and add `comment`, required to request changes, as the
    reviewer's comment on it. All or nothing."""
    decision = clean_decision(decision)
    comment = clean_review_comment(decision, comment)
    if len(comment) > TEXT_MAX:
        message = f"At most {TEXT_MAX} characters (got {len(comment)})."
        raise InvalidInput(message, validation_errors=[field_error("comment", message)])
    with transaction.atomic():
        ticket = ticket_review(
            actor=actor,
            ticket_id=ticket_id,
            decision=decision,
            comment=comment,
            override=override,
            expected_version=expected_version,
        )
        if comment.strip():
            comment_create(actor=actor, ticket_id=ticket_id, text=comment)
    return ticket
