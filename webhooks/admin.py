"""Webhooks in the admin: to look at, not to change (the board's Webhooks page and the
REST API change them, through webhooks.services). The secret is never shown."""

from django.contrib import admin

from boards.admin import ViewOnlyAdmin
from webhooks.models import Webhook, WebhookDelivery


@admin.register(Webhook)
class WebhookAdmin(ViewOnlyAdmin):
    list_display = ["url", "board", "active", "consecutive_failures", "cursor", "created_at"]
    list_select_related = ["board"]
    list_filter = ["active"]
    search_fields = ["url", "board__name"]
    exclude = ["secret", "lease_token"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ViewOnlyAdmin):
    list_display = ["delivery_id", "webhook", "seq", "event", "status", "attempts"]
    list_select_related = ["webhook"]
    list_filter = ["status", "event"]
