from rest_framework import serializers

from history.models import TicketHistory


class TicketHistorySerializer(serializers.ModelSerializer):
    changed_by = serializers.CharField(
        source="changed_by.username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = TicketHistory
        fields = [
            "id",
            "ticket_id",
            "board_id",
            "field_name",
            "old_value",
            "new_value",
            "changed_by",
            "changed_at",
        ]
        read_only_fields = fields


class TransitionSerializer(serializers.Serializer):
    column = serializers.CharField()
    from_column = serializers.CharField(allow_null=True)
    entered_at = serializers.DateTimeField()
    left_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.FloatField()
    moved_by = serializers.CharField(allow_null=True)


class TimeInColumnSerializer(serializers.Serializer):
    column = serializers.CharField()
    seconds = serializers.FloatField()


class TransitionsSerializer(serializers.Serializer):
    ticket_id = serializers.IntegerField()
    transitions = TransitionSerializer(many=True)
    time_in_columns = TimeInColumnSerializer(many=True)
