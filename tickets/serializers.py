from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tickets import rules
from tickets.models import Ticket


class TicketSerializer(serializers.ModelSerializer):
    """How a ticket looks everywhere: API responses, board events, exports."""

    board_id = serializers.IntegerField(read_only=True)
    column_id = serializers.IntegerField(read_only=True)
    current_column = serializers.CharField(source="column.name", read_only=True)
    priority = serializers.CharField(source="priority_name", read_only=True)
    assignee = serializers.CharField(source="assignee.username", read_only=True, default=None)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)
    labels = serializers.SerializerMethodField()

    class Meta:
        model = Ticket
        fields = [
            "id",
            "board_id",
            "title",
            "description",
            "acceptance_criteria",
            "priority",
            "current_column",
            "column_id",
            "position",
            "assignee",
            "created_by",
            "labels",
            "column_entered_at",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_labels(self, ticket: Ticket) -> list[str]:
        return sorted(label.name for label in ticket.labels.all())


class PositionField(serializers.JSONField):
    """ "top", "bottom", {"before": ticket_id} or {"after": ticket_id}."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        rules.parse_position(value)
        return value


class TicketWriteSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=rules.TITLE_MAX)
    description = serializers.CharField(
        max_length=rules.TEXT_MAX, allow_blank=True, required=False, trim_whitespace=False
    )
    acceptance_criteria = serializers.CharField(
        max_length=rules.TEXT_MAX, allow_blank=True, required=False, trim_whitespace=False
    )
    priority = serializers.ChoiceField(choices=rules.PRIORITY_NAMES, required=False)
    assignee = serializers.CharField(
        max_length=150, allow_null=True, allow_blank=True, required=False
    )
    labels = serializers.ListField(
        child=serializers.CharField(max_length=rules.LABEL_MAX),
        max_length=rules.LABELS_MAX,
        required=False,
    )


class TicketCreateSerializer(TicketWriteSerializer):
    board_id = serializers.IntegerField(min_value=1)
    column = serializers.CharField(
        max_length=100, required=False, help_text="Column name; the board's first column if absent."
    )
    position = PositionField(
        required=False, help_text='"top", "bottom" (default), {"before": id} or {"after": id}.'
    )


class TicketUpdateSerializer(TicketWriteSerializer):
    title = serializers.CharField(max_length=rules.TITLE_MAX, required=False)
    current_column = serializers.CharField(
        max_length=100, required=False, help_text="Moves the ticket to the bottom of it."
    )
    version = serializers.IntegerField(
        min_value=1, required=False, help_text="The version you read; 409 if it is stale."
    )


class TicketMoveSerializer(serializers.Serializer):
    column = serializers.CharField(max_length=100)
    position = PositionField(
        required=False, help_text='"top", "bottom" (default), {"before": id} or {"after": id}.'
    )
    version = serializers.IntegerField(min_value=1, required=False)


class BulkIdsSerializer(serializers.Serializer):
    ticket_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=rules.BULK_MAX
    )


class BulkMoveSerializer(BulkIdsSerializer):
    column = serializers.CharField(max_length=100)


class BulkPrioritySerializer(BulkIdsSerializer):
    priority = serializers.ChoiceField(choices=rules.PRIORITY_NAMES)


class BulkAssignSerializer(BulkIdsSerializer):
    assignee = serializers.CharField(max_length=150, allow_null=True)


class BulkResultSerializer(serializers.Serializer):
    ticket_id = serializers.IntegerField()
    status = serializers.CharField()
    version = serializers.IntegerField()


class BulkReportSerializer(serializers.Serializer):
    operation = serializers.CharField()
    changed = serializers.IntegerField()
    results = BulkResultSerializer(many=True)
