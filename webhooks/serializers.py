from rest_framework import serializers

from core.adapters import RefuseUnknownFields, StrictBooleanField
from webhooks.models import Webhook, WebhookDelivery
from webhooks.rules import EVENT_TYPES, SECRET_MAX, URL_MAX

EVENTS_HELP = f'Event types of the board event log ({", ".join(EVENT_TYPES)}), or ["*"] for all.'


class WebhookSerializer(serializers.ModelSerializer):
    """A webhook as board admins see it: never its secret, which only creation shows."""

    board_id = serializers.IntegerField(read_only=True)
    events = serializers.ListField(child=serializers.CharField(), help_text=EVENTS_HELP)
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, allow_null=True, default=None
    )
    last_seq = serializers.IntegerField(
        source="cursor",
        read_only=True,
        help_text="The last event of the board's log turned into a delivery for this webhook.",
    )
    disabled_reason = serializers.CharField(
        read_only=True, help_text="Why the webhook is switched off (empty while it is on)."
    )

    class Meta:
        model = Webhook
        fields = [
            "id",
            "board_id",
            "url",
            "events",
            "active",
            "consecutive_failures",
            "disabled_reason",
            "disabled_at",
            "created_by",
            "created_at",
            "updated_at",
            "last_seq",
        ]
        read_only_fields = fields


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="Signs every delivery (X-Agent-Kanban-Signature). Shown only in this answer.",
    )

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookCreateSerializer(RefuseUnknownFields):
    url = serializers.CharField(
        max_length=URL_MAX, help_text="http or https; private addresses are refused."
    )
    events = serializers.ListField(
        child=serializers.CharField(max_length=40),
        required=False,
        max_length=len(EVENT_TYPES),
        help_text=EVENTS_HELP + ' Default: ["*"].',
    )
    secret = serializers.CharField(
        required=False,
        max_length=SECRET_MAX,
        trim_whitespace=False,
        help_text="At least 16 characters; omit it and one is made for you.",
    )
    active = StrictBooleanField(required=False)


class WebhookUpdateSerializer(WebhookCreateSerializer):
    ignored_fields = frozenset(set(WebhookSerializer.Meta.fields) - {"url", "events", "active"})

    url = serializers.CharField(max_length=URL_MAX, required=False)


class DeliverySerializer(serializers.ModelSerializer):
    delivery_id = serializers.UUIDField(
        read_only=True, help_text="X-Agent-Kanban-Delivery: the same on every attempt."
    )
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, read_only=True)
    last_status_code = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The HTTP status of the last answer."
    )

    class Meta:
        model = WebhookDelivery
        fields = [
            "delivery_id",
            "seq",
            "event",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "last_attempt_at",
            "next_attempt_at",
            "delivered_at",
            "created_at",
        ]
        read_only_fields = fields
