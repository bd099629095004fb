from rest_framework import serializers

from comments import services
from comments.models import Comment


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True, default=None)

    class Meta:
        model = Comment
        fields = ["id", "ticket_id", "text", "author", "created_at", "updated_at"]
        read_only_fields = fields


class CommentCreateSerializer(serializers.Serializer):
    ticket_id = serializers.IntegerField(min_value=1)
    text = serializers.CharField(max_length=services.TEXT_MAX, trim_whitespace=False)


class CommentUpdateSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=services.TEXT_MAX, trim_whitespace=False)
