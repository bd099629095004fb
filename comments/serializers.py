from rest_framework import serializers

from comments import rules
from comments.models import Comment
from comments.representation import comment_representation
from core.adapters import RefuseUnknownFields
from tickets.serializers import ClaimTokenField


class CommentSerializer(serializers.ModelSerializer):
    # The fields declare the shape (OpenAPI schema); `comment_representation` produces it.
    author = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = Comment
        fields = ["id", "ticket_id", "text", "author", "created_at", "updated_at"]
        read_only_fields = fields

    def to_representation(self, instance: Comment) -> dict:
        return comment_representation(instance)


class CommentCreateSerializer(RefuseUnknownFields):
    ticket_id = serializers.IntegerField(min_value=1)
    text = serializers.CharField(max_length=rules.TEXT_MAX, trim_whitespace=False)
    claim_token = ClaimTokenField()


class CommentUpdateSerializer(RefuseUnknownFields):
    ignored_fields = frozenset({"id", "ticket_id", "author", "created_at", "updated_at"})

    text = serializers.CharField(max_length=rules.TEXT_MAX, trim_whitespace=False)
