from django.contrib import admin

from boards.admin import ViewOnlyAdmin
from tickets.models import Label, Ticket, TicketLink


@admin.register(Ticket)
class TicketAdmin(ViewOnlyAdmin):
    """View-only (see boards/admin.py): tickets change, move and are deleted through
    tickets.services, which keep history, versions, WIP limits and live events right."""

    list_display = [
        "id",
        "title",
        "board",
        "column_name",
        "priority",
        "assignee",
        "claimed_by",
        "version",
        "updated_at",
    ]
    list_display_links = ["id", "title"]
    # The change page names the column as "board / column", hence column__board.
    list_select_related = ["board", "column__board", "assignee", "claimed_by"]
    list_filter = ["priority", "board", "assignee__is_agent", "created_at"]
    search_fields = ["title", "description", "acceptance_criteria", "assignee__username"]
    readonly_fields = ["column_name"]

    @admin.display(description="column", ordering="column__position")
    def column_name(self, ticket: Ticket) -> str:
        return ticket.column.name


@admin.register(Label)
class LabelAdmin(ViewOnlyAdmin):
    """View-only: labels are made when tickets are labelled (tickets.services)."""

    list_display = ["name", "board"]
    list_select_related = ["board"]
    list_filter = ["board"]
    search_fields = ["name", "board__name"]


@admin.register(TicketLink)
class TicketLinkAdmin(ViewOnlyAdmin):
    """View-only: links are made by forge deliveries (tickets.services.links)."""

    list_display = ["ticket", "kind", "forge", "state", "title", "updated_at"]
    list_select_related = ["ticket"]
    list_filter = ["kind", "forge", "state"]
    search_fields = ["url", "title"]
