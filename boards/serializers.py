from rest_framework import serializers

from boards import rules
from boards.models import Board, Role
from boards.representation import board_representation
from core.adapters import RefuseUnknownFields, StrictBooleanField, StrictCharField
from core.ids import ID_MAX


class ColumnSerializer(RefuseUnknownFields):
    id = serializers.IntegerField(
        required=False, allow_null=True, help_text="Keep this column; absent for a new one."
    )
    name = StrictCharField(max_length=rules.COLUMN_NAME_MAX)
    wip_limit = serializers.IntegerField(
        min_value=1,
        max_value=10_000,
        required=False,
        allow_null=True,
        help_text="null for no limit; a kept column keeps its limit if this is absent.",
    )
    requires_review = StrictBooleanField(
        required=False,
        help_text="Tickets leave it forward only by an approval (POST /api/tickets/{id}/review) "
        "and cannot skip it; a kept column keeps its setting if this is absent, a new one is "
        "false. Not the first or last column.",
    )
    position = serializers.IntegerField(read_only=True)
    ticket_count = serializers.IntegerField(read_only=True)
    is_full = serializers.BooleanField(read_only=True)


class ColumnsUpdateSerializer(RefuseUnknownFields):
    # A ListField (not many=True) so the document states minItems and maxItems.
    columns = serializers.ListField(
        child=ColumnSerializer(), min_length=1, max_length=rules.COLUMNS_MAX
    )


class BoardSerializer(serializers.ModelSerializer):
    # The fields declare the shape (OpenAPI schema); `board_representation` produces it.
    created_by = serializers.CharField(read_only=True, allow_null=True)
    ticket_count = serializers.IntegerField(read_only=True, required=False)
    columns = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="Column names in order (the seed's `columns`); details at /columns.",
    )

    class Meta:
        model = Board
        fields = [
            "id",
            "name",
            "description",
            "review_by",
            "columns",
            "ticket_count",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, instance: Board) -> dict:
        return board_representation(instance)


class BoardWriteSerializer(RefuseUnknownFields):
    ignored_fields = frozenset({"id", "ticket_count", "created_by", "created_at", "updated_at"})

    name = StrictCharField(max_length=rules.NAME_MAX)
    description = StrictCharField(
        max_length=rules.DESCRIPTION_MAX, allow_blank=True, required=False, trim_whitespace=False
    )
    review_by = serializers.ChoiceField(
        choices=rules.REVIEW_BY,
        required=False,
        help_text='Who may review tickets in review columns: "anyone" with write rights '
        '(the default) or "humans" only. Board admins only may change it.',
    )


class BoardCreateSerializer(BoardWriteSerializer):
    columns = serializers.ListField(
        child=StrictCharField(max_length=rules.COLUMN_NAME_MAX),
        required=False,
        min_length=1,
        max_length=rules.COLUMNS_MAX,
        help_text="Column names in order; Backlog, In Progress, Testing, Done if absent.",
    )


class BoardUpdateSerializer(BoardWriteSerializer):
    misplaced_fields = {"columns": "Columns change with PUT /api/boards/{id}/columns."}

    name = StrictCharField(max_length=rules.NAME_MAX, required=False)


class MembershipSerializer(serializers.Serializer):
    user_id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    kind = serializers.CharField(source="user.kind", read_only=True, help_text="human or agent")
    role = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class MembershipRoleSerializer(RefuseUnknownFields):
    ignored_fields = frozenset({"user_id", "username", "kind", "created_at"})

    role = serializers.ChoiceField(choices=Role.choices)


class MembershipCreateSerializer(MembershipRoleSerializer):
    """Name the user by `user_id` or by `username`."""

    ignored_fields = frozenset({"kind", "created_at"})

    user_id = serializers.IntegerField(min_value=1, max_value=ID_MAX, required=False)
    username = serializers.CharField(max_length=150, required=False)

    def validate(self, data):
        if ("user_id" in data) == ("username" in data):
            raise serializers.ValidationError("Give either user_id or username.")
        return data
