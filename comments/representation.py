"""The one shape of a comment: REST responses, board events and the MCP server's comment
briefs show what `comment_representation` returns. `CommentSerializer` declares the same
fields for the OpenAPI schema; tests/api/test_response_schema.py holds the two in step."""

from comments.models import Comment
from core.isotime import iso_datetime


def comment_representation(comment: Comment) -> dict:
    """`comment` with its author's username (None once the author is gone)."""
    return {
        "id": comment.pk,
        "ticket_id": comment.ticket_id,
        "text": comment.text,
        "author": comment.author.username if comment.author_id else None,
        "created_at": iso_datetime(comment.created_at),
        "updated_at": iso_datetime(comment.updated_at),
    }
