from django.db.models import QuerySet

from agent_kanban.errors import NotFound
from comments.models import Comment
from tickets.models import Ticket


def comment_queryset() -> QuerySet[Comment]:
    return Comment.objects.select_related("author")


def comment_get(*, comment_id: int) -> Comment:
    comment = comment_queryset().filter(pk=comment_id).first()
    if comment is None:
        raise NotFound(f"Comment {comment_id} does not exist.")
    return comment


def ticket_comments(*, ticket_id: int) -> QuerySet[Comment]:
    if not Ticket.objects.filter(pk=ticket_id).exists():
        raise NotFound(f"Ticket {ticket_id} does not exist.")
    return comment_queryset().filter(ticket_id=ticket_id).order_by("created_at", "id")
