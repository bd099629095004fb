from rest_framework import serializers

from agents.models import ApiToken
from agents.selectors import token_status
from agents.services import MAX_BOARDS_PER_TOKEN
from core.adapters import RefuseUnknownFields


class TokenSerializer(serializers.ModelSerializer):
    """A token as its owner sees it: never its secret, which only creation shows."""

    user = serializers.CharField(source="user.username", read_only=True)
    board_ids = serializers.SerializerMethodField(
        help_text="The boards the token is limited to; empty means every board of its user."
    )
    status = serializers.SerializerMethodField(help_text="active, expired or revoked")

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "user",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
            "read_only",
            "board_ids",
            "status",
        ]
        read_only_fields = fields

    def get_board_ids(self, token: ApiToken) -> list[int]:
        return sorted(board.pk for board in token.boards.all())

    def get_status(self, token: ApiToken) -> str:
        return token_status(token)


class TokenCreatedSerializer(TokenSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The token itself. Shown only in this answer: keep it."
    )

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class TokenCreateSerializer(RefuseUnknownFields):
    name = serializers.CharField(max_length=100)
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="ISO 8601 with an offset; omit for no expiry."
    )
    read_only = serializers.BooleanField(required=False, default=False)
    board_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=MAX_BOARDS_PER_TOKEN,
        help_text="Limit the token to these boards (each one its user may read).",
    )
    user = serializers.CharField(
        required=False,
        max_length=150,
        help_text="Whose token: yourself (default) or, for site admins, an agent's username.",
    )
