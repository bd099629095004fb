from django.contrib import admin
from django.utils.text import Truncator

from boards.admin import ViewOnlyAdmin
from comments.models import Comment


@admin.register(Comment)
class CommentAdmin(ViewOnlyAdmin):
    """View-only (see boards/admin.py): comments are written, edited and deleted
    through comments.services, which tell the board's live clients."""

    list_display = ["id", "excerpt", "ticket", "board", "author", "created_at", "updated_at"]
    list_select_related = ["ticket__board", "author"]
    list_filter = ["ticket__board", "author__is_agent", "created_at"]
    search_fields = ["text", "author__username", "ticket__title"]

    @admin.display(description="text")
    def excerpt(self, comment: Comment) -> str:
        return Truncator(comment.text).chars(80)

    @admin.display(description="board", ordering="ticket__board__name")
    def board(self, comment: Comment) -> str:
        return comment.ticket.board.name
