"""Every write to comments; each appends a board event."""

from django.db import transaction

from boards.access import ADMIN, READ, WRITE, can, require_board
from boards.events import event_append
from comments.models import Comment
from comments.representation import comment_representation
from comments.rules import TEXT_MAX
from core import clock
from core.errors import Forbidden, InvalidInput, NotFound, field_error
from core.transactions import retry_once_on_deadlock
from tickets.services import lock_ticket_for, ticket_fence


def _clean_text(text) -> str:
    if not isinstance(text, str) or not text.strip():
        message = "A comment needs text."
        raise InvalidInput(message, validation_errors=[field_error("text", message)])
    if len(text) > TEXT_MAX:
        message = f"At most {TEXT_MAX} characters (got {len(text)})."
        raise InvalidInput(message, validation_errors=[field_error("text", message)])
    return text


def comment_payload(comment: Comment) -> dict:
    """What a board event carries about `comment`: its one representation."""
    return comment_representation(comment)


def _comment_for_write(comment_id: int, actor) -> Comment:
    comment = (
        Comment.objects.select_for_update(of=("self",), no_key=True)
        .select_related("ticket", "author")
        .filter(pk=comment_id)
        .first()
    )
    if comment is None or not can(actor, comment.ticket.board_id, READ):
        raise NotFound(f"Comment {comment_id} does not exist.")
    require_board(actor, comment.ticket.board_id, WRITE)
    if comment.author_id != actor.pk and not can(actor, comment.ticket.board_id, ADMIN):
        raise Forbidden("Only the author of a comment (or a board admin) may change it.")
    return comment


@retry_once_on_deadlock
def comment_create(*, actor, ticket_id: int, text: str, claim_token: str | None = None) -> Comment:
    """Comment on a ticket. With `claim_token` (a claim holder's progress note), only while
    the claim it names is current: 409 `lease_lost` otherwise, and no comment."""
    text = _clean_text(text)
    with transaction.atomic():
        if claim_token is None:
            # The ticket's row before the board's, as every ticket write takes them: the
            # comment's foreign key would otherwise lock the ticket only at commit, after
            # the board (`event_append`), and deadlock with a write that holds the ticket
            # (deleting it, or changing its position) and waits for the board.
            board_id = lock_ticket_for(actor, ticket_id, WRITE)
        else:
            ticket = ticket_fence(actor=actor, ticket_id=ticket_id, claim_token=claim_token)
            board_id = ticket.board_id
        now = clock.now()
        comment = Comment.objects.create(
            ticket_id=ticket_id, text=text, author=actor, created_at=now, updated_at=now
        )
        event_append(
            board_id=board_id,
            type="comment_added",
            payload=comment_payload(comment),
            actor=actor,
        )
    return comment


@retry_once_on_deadlock
def comment_update(*, actor, comment_id: int, text: str | None = None) -> Comment:
    """Change a comment's text; without `text` (a PATCH of nothing) only check that the
    actor may change it."""
    if text is not None:
        text = _clean_text(text)
    with transaction.atomic():
        comment = _comment_for_write(comment_id, actor)
        if text is None or comment.text == text:
            return comment
        comment.text = text
        comment.updated_at = clock.now()
        comment.save(update_fields=["text", "updated_at"])
        event_append(
            board_id=comment.ticket.board_id,
            type="comment_updated",
            payload=comment_payload(comment),
            actor=actor,
        )
    return comment


@retry_once_on_deadlock
def comment_delete(*, actor, comment_id: int) -> None:
    with transaction.atomic():
        comment = _comment_for_write(comment_id, actor)
        payload = {"id": comment.pk, "ticket_id": comment.ticket_id}
        board_id = comment.ticket.board_id
        comment.delete()
        event_append(board_id=board_id, type="comment_deleted", payload=payload, actor=actor)
