"""Boards in the admin: to look at, not to change.

Every write to a board, column, ticket, comment or the history goes through a service,
which checks the rules, writes history and tells live clients. The admin's forms
would skip all of that, so these admins are view-only: no adding, no changing and no
deleting (use the board pages, the REST API or MCP for that)."""

from django.contrib import admin
from django.http import HttpRequest

from boards.models import Board, BoardEvent, Column


class ViewOnlyAdmin(admin.ModelAdmin):
    """A ModelAdmin that shows rows and changes nothing (see the module docstring)."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ViewOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ColumnInline(ViewOnlyInline):
    model = Column
    fields = ["name", "position", "wip_limit"]
    ordering = ["position"]

    def get_queryset(self, request):
        # Each row prints the column as "board / column": load the board with it.
        return super().get_queryset(request).select_related("board")


@admin.register(Board)
class BoardAdmin(ViewOnlyAdmin):
    """View-only: boards change through boards.services (see the module docstring)."""

    list_display = ["name", "id", "created_by", "created_at", "updated_at", "last_event_seq"]
    list_select_related = ["created_by"]
    search_fields = ["name", "description"]
    list_filter = ["created_at"]
    inlines = [ColumnInline]


@admin.register(Column)
class ColumnAdmin(ViewOnlyAdmin):
    """View-only: columns change through boards.services.board_set_columns."""

    list_display = ["name", "board", "position", "wip_limit"]
    list_select_related = ["board"]
    list_filter = ["board"]
    search_fields = ["name", "board__name"]
    ordering = ["board__name", "board_id", "position"]


@admin.register(BoardEvent)
class BoardEventAdmin(ViewOnlyAdmin):
    """View-only (see boards/admin.py): events are appended by the services, in order."""

    list_display = ["board", "seq", "type", "actor", "created_at"]
    list_select_related = ["board", "actor"]
    list_filter = ["type", "board"]
    search_fields = ["type", "actor__username"]
