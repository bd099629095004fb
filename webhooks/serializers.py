from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.adapters import RefuseUnknownFields, StrictBooleanField
from webhooks.models import Webhook, WebhookDelivery
from webhooks.rules import ALL_EVENTS, EVENT_TYPES, SECRET_MAX, SECRET_MIN, URL_MAX

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


# What webhooks.addresses.split takes, as a pattern for the document: http or https, a
# host without credentials, no spaces or control characters (surrounding spaces are
# trimmed). Whether the host is public is checked when it resolves, and is not stated.
URL_PATTERN = r"^\s*[Hh][Tt][Tt][Pp][Ss]?://[^\x00-\x20\x7f/?#@]+([/?#][^\x00-\x20\x7f]*)?\s*$"


@extend_schema_field(
    {"type": "string", "format": "uri", "pattern": URL_PATTERN, "maxLength": URL_MAX}
)
class WebhookUrlField(serializers.CharField):
    """A webhook's URL: its rules are webhooks.addresses', the document states them."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", URL_MAX)
        kwargs.setdefault("help_text", "http or https; private addresses are refused.")
        super().__init__(**kwargs)


@extend_schema_field(
    {
        "oneOf": [
            {
                "type": "array",
                "items": {"type": "string", "enum": [ALL_EVENTS]},
                "minItems": 1,
                "maxItems": 1,
            },
            {
                "type": "array",
                "items": {"type": "string", "enum": list(EVENT_TYPES)},
                "minItems": 1,
                "maxItems": len(EVENT_TYPES),
            },
        ]
    }
)
class WebhookEventsField(serializers.ListField):
    """A webhook's events: webhooks.services.clean_events decides; the document states
    its rule (["*"] alone, or known event types)."""


class WebhookCreateSerializer(RefuseUnknownFields):
    url = WebhookUrlField()
    events = WebhookEventsField(
        child=serializers.CharField(max_length=40),
        required=False,
        max_length=len(EVENT_TYPES),
        help_text=EVENTS_HELP + ' Default: ["*"].',
    )
    secret = serializers.CharField(
        required=False,
        min_length=SECRET_MIN,
        max_length=SECRET_MAX,
        trim_whitespace=False,
        help_text=f"{SECRET_MIN} to {SECRET_MAX} printable ASCII characters; omit it and one "
        "is made for you.",
    )
    active = StrictBooleanField(required=False)


class WebhookUpdateSerializer(WebhookCreateSerializer):
    ignored_fields = frozenset(set(WebhookSerializer.Meta.fields) - {"url", "events", "active"})

    url = WebhookUrlField(required=False)


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
