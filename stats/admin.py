from django.contrib import admin

from boards.admin import ViewOnlyAdmin
from stats.models import RefusedMove


@admin.register(RefusedMove)
class RefusedMoveAdmin(ViewOnlyAdmin):
    """Refused moves are a record of what happened: view only."""

    list_display = ("at", "board", "ticket_id", "to_column", "reason", "actor")
    list_filter = ("reason",)
    list_select_related = ("board", "actor")
    date_hierarchy = "at"
