"""Query parameters in, statistics out (the output serializers document the schema and
render dates and times the way the rest of the API does)."""

from rest_framework import serializers

from stats.periods import MAX_DAYS

# ---------------------------------------------------------------- query parameters


class DaysQuery(serializers.Serializer):
    days = serializers.IntegerField(
        min_value=1,
        max_value=MAX_DAYS,
        required=False,
        help_text="The last N days, today included (default 30); not with from/to.",
    )

    def get_fields(self):
        fields = super().get_fields()
        # `from` is a Python keyword, so these two are added by name.
        fields["from"] = serializers.DateField(
            required=False,
            help_text="First day, YYYY-MM-DD (UTC); instead of days. Not after `to` (or today), "
            f"and at most {MAX_DAYS} days before it.",
        )
        fields["to"] = serializers.DateField(
            required=False, help_text="Last day, YYYY-MM-DD (UTC); default today."
        )
        return fields


class ColorsQuery(serializers.Serializer):
    column = serializers.CharField(max_length=100, required=False)


# ---------------------------------------------------------------- responses


class PeriodSerializer(serializers.Serializer):
    days = serializers.IntegerField()

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateField()
        fields["to"] = serializers.DateField()
        return fields


class SummarySerializer(serializers.Serializer):
    samples = serializers.IntegerField()
    mean_seconds = serializers.FloatField(allow_null=True)
    median_seconds = serializers.FloatField(allow_null=True)
    p85_seconds = serializers.FloatField(allow_null=True)
    p95_seconds = serializers.FloatField(allow_null=True)
    min_seconds = serializers.FloatField(allow_null=True)
    max_seconds = serializers.FloatField(allow_null=True)


class PercentilesSerializer(serializers.Serializer):
    samples = serializers.IntegerField()
    p50_seconds = serializers.FloatField(allow_null=True)
    p85_seconds = serializers.FloatField(allow_null=True)
    p95_seconds = serializers.FloatField(allow_null=True)
    mean_seconds = serializers.FloatField(allow_null=True)


class StatisticsPeriodSerializer(PeriodSerializer):
    created = serializers.IntegerField()
    finished = serializers.IntegerField()
    moves = serializers.IntegerField()


class ColumnStatisticsSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    position = serializers.IntegerField()
    count = serializers.IntegerField()
    wip_limit = serializers.IntegerField(allow_null=True)
    time_in_column = SummarySerializer(help_text="Stays that ended in the period.")


class TotalsSerializer(serializers.Serializer):
    tickets = serializers.IntegerField()
    backlog = serializers.IntegerField()
    in_progress = serializers.IntegerField()
    done = serializers.IntegerField()
    wip_limit = serializers.IntegerField(allow_null=True)


class BoardStatisticsSerializer(serializers.Serializer):
    board_id = serializers.IntegerField()
    period = StatisticsPeriodSerializer()
    columns = ColumnStatisticsSerializer(many=True)
    totals = TotalsSerializer()


class ColouredTicketSerializer(serializers.Serializer):
    ticket_id = serializers.IntegerField()
    title = serializers.CharField()
    column = serializers.CharField()
    column_entered_at = serializers.DateTimeField()
    time_in_column_seconds = serializers.FloatField()
    color = serializers.ChoiceField(["green", "yellow", "red", "grey"])
    rule = serializers.CharField()
    reason = serializers.CharField()
    samples = serializers.IntegerField()
    median = serializers.FloatField(allow_null=True, help_text="Seconds.")
    p85 = serializers.FloatField(allow_null=True, help_text="Seconds.")
    p95 = serializers.FloatField(allow_null=True, help_text="Seconds.")


class ColorColumnSerializer(SummarySerializer):
    name = serializers.CharField()
    position = serializers.IntegerField()
    judged = serializers.BooleanField(help_text="False: too few samples, its tickets are grey.")


class TicketColorsSerializer(serializers.Serializer):
    board_id = serializers.IntegerField()
    window_days = serializers.IntegerField()
    min_samples = serializers.IntegerField()
    columns = ColorColumnSerializer(many=True)
    tickets = ColouredTicketSerializer(many=True)


class StaySerializer(serializers.Serializer):
    column = serializers.CharField()
    entered_at = serializers.DateTimeField()
    left_at = serializers.DateTimeField(allow_null=True)
    seconds = serializers.FloatField()


class ColumnTimeSerializer(serializers.Serializer):
    column = serializers.CharField()
    seconds = serializers.FloatField()
    visits = serializers.IntegerField()


class TicketStatisticsSerializer(serializers.Serializer):
    ticket_id = serializers.IntegerField()
    board_id = serializers.IntegerField()
    column = serializers.CharField()
    column_entered_at = serializers.DateTimeField()
    time_in_column_seconds = serializers.FloatField()
    age_seconds = serializers.FloatField()
    time_in_columns = ColumnTimeSerializer(many=True)
    transitions = StaySerializer(many=True)
    finished = serializers.BooleanField()
    finished_at = serializers.DateTimeField(allow_null=True)
    cycle_time_seconds = serializers.FloatField(allow_null=True)
    lead_time_seconds = serializers.FloatField(allow_null=True)
    color = serializers.CharField(allow_null=True)
    rule = serializers.CharField()
    reason = serializers.CharField()
    reference = SummarySerializer(required=False)


class DayCountSerializer(serializers.Serializer):
    date = serializers.DateField()
    count = serializers.IntegerField()


class WeekCountSerializer(serializers.Serializer):
    week_start = serializers.DateField()
    count = serializers.IntegerField()


class FinishedTicketSerializer(serializers.Serializer):
    ticket_id = serializers.IntegerField()
    finished_at = serializers.DateTimeField()
    cycle_time_seconds = serializers.FloatField(allow_null=True)
    lead_time_seconds = serializers.FloatField()


class PerformanceSerializer(serializers.Serializer):
    board_id = serializers.IntegerField()
    period = PeriodSerializer()
    finished_count = serializers.IntegerField()
    throughput = DayCountSerializer(many=True)
    throughput_weekly = WeekCountSerializer(many=True)
    cycle_time = PercentilesSerializer()
    lead_time = PercentilesSerializer()
    wip = DayCountSerializer(many=True)
    finished = FinishedTicketSerializer(many=True)


class FlowDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    counts = serializers.DictField(child=serializers.IntegerField())


class FlowSerializer(serializers.Serializer):
    board_id = serializers.IntegerField()
    period = PeriodSerializer()
    columns = serializers.ListField(child=serializers.CharField())
    days = FlowDaySerializer(many=True)


class MovePairSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    human = serializers.IntegerField()
    agent = serializers.IntegerField()
    unknown = serializers.IntegerField(help_text="Moves by since deleted users.")

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.CharField()
        fields["to"] = serializers.CharField()
        return fields


class RefusedSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    by_reason = serializers.DictField(child=serializers.IntegerField())


class DragDropSerializer(serializers.Serializer):
    board_id = serializers.IntegerField()
    period = PeriodSerializer()
    total_moves = serializers.IntegerField()
    moves = MovePairSerializer(many=True)
    by_actor_kind = serializers.DictField(child=serializers.IntegerField())
    refused = RefusedSerializer()
