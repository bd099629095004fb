from rest_framework import serializers

from agent_kanban.adapters import RefuseUnknownFields
from comments import services
from comments.models import Comment


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.CharField(
        source="author.username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Comment
        fields = ["id", "ticket_id", "text", "author", "created_at", "updated_at"]
        read_only_fields = fields


class CommentCreateSerializer(RefuseUnknownFields):
    ticket_id = serializers.IntegerField(min_value=1)
    text = serializers.CharField(max_length=services.TEXT_MAX, trim_whitespace=False)


class CommentUpdateSerializer(RefuseUnknownFields):
    ignored_fields = frozenset({"id", "ticket_id", "author", "created_at", "updated_at"})

    text = serializers.CharField(max_length=services.TEXT_MAX, trim_whitespace=False)
