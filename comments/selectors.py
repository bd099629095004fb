from django.db.models import QuerySet

from boards.access import READ, can, readable_boards
from comments.models import Comment
from core.errors import NotFound
from tickets.access import require_ticket


def comment_queryset() -> QuerySet[Comment]:
    return Comment.objects.select_related("author")


def readable_comments(actor) -> QuerySet[Comment]:
    return readable_boards(comment_queryset(), actor, field="ticket__board_id")


def comment_get(*, actor, comment_id: int) -> Comment:
    """The comment, or NotFound when it is missing or on a board `actor` may not read."""
    comment = comment_queryset().select_related("ticket").filter(pk=comment_id).first()
    if comment is None or not can(actor, comment.ticket.board_id, READ):
        raise NotFound(f"Comment {comment_id} does not exist.")
    return comment


def ticket_comments(*, actor, ticket_id: int) -> QuerySet[Comment]:
    require_ticket(actor, ticket_id, READ)
    return comment_queryset().filter(ticket_id=ticket_id).order_by("created_at", "id")
