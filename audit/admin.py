from django.contrib import admin
from django.http import HttpRequest

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit log, read-only: rows are only ever added, by the services."""

    list_display = ["at", "action", "actor", "board_id", "target_type", "target_id", "ip"]
    list_select_related = ["actor"]
    list_filter = [
        "action",
        "at",
        ("actor", admin.RelatedOnlyFieldListFilter),
        "actor__is_agent",
    ]
    search_fields = ["action", "actor__username", "target_id", "ip", "details"]
    date_hierarchy = "at"
    readonly_fields = [
        "at",
        "action",
        "actor",
        "board_id",
        "target_type",
        "target_id",
        "ip",
        "details",
    ]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
