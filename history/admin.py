from django.contrib import admin
from django.utils.text import Truncator

from boards.admin import ViewOnlyAdmin
from history.models import TicketHistory


@admin.register(TicketHistory)
class TicketHistoryAdmin(ViewOnlyAdmin):
    """View-only (see boards/admin.py): history is an audit trail, written only by
    history.receivers when a ticket service reports a change."""

    list_display = ["changed_at", "board", "ticket_id", "field_name", "old", "new", "changed_by"]
    list_select_related = ["board", "changed_by"]
    list_filter = ["field_name", "board", "changed_by__is_agent"]
    search_fields = ["=ticket_id", "field_name", "old_value", "new_value", "changed_by__username"]

    @admin.display(description="old value")
    def old(self, row: TicketHistory) -> str | None:
        return None if row.old_value is None else Truncator(row.old_value).chars(60)

    @admin.display(description="new value")
    def new(self, row: TicketHistory) -> str | None:
        return None if row.new_value is None else Truncator(row.new_value).chars(60)
