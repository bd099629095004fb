from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from comments import selectors, services
from comments.serializers import (
    CommentCreateSerializer,
    CommentSerializer,
    CommentUpdateSerializer,
)
from core.adapters import validated
from tickets.api import CLAIM_TOKEN_PARAMETER, claim_token


def comment_response(request, comment_id: int, status_code: int = 200) -> Response:
    comment = selectors.comment_get(actor=request.user, comment_id=comment_id)
    return Response(CommentSerializer(comment).data, status=status_code)


class CommentViewSet(viewsets.GenericViewSet):
    lookup_value_regex = r"\d+"
    serializer_class = CommentSerializer

    def get_queryset(self):
        return selectors.readable_comments(self.request.user)

    def get_serializer_class(self):
        return {
            "create": CommentCreateSerializer,
            "update": CommentUpdateSerializer,
            "partial_update": CommentUpdateSerializer,
        }.get(self.action, CommentSerializer)

    @extend_schema(responses=CommentSerializer(many=True))
    @action(detail=False, methods=["get"], url_path=r"ticket/(?P<ticket_id>\d+)")
    def for_ticket(self, request, ticket_id: int):
        """The ticket's comments, oldest first."""
        comments = selectors.ticket_comments(actor=request.user, ticket_id=int(ticket_id))
        page = self.paginate_queryset(comments)
        return self.get_paginated_response(CommentSerializer(page, many=True).data)

    @extend_schema(
        request=CommentCreateSerializer,
        responses={201: CommentSerializer},
        parameters=[CLAIM_TOKEN_PARAMETER],
    )
    def create(self, request):
        data = validated(CommentCreateSerializer, request.data)
        token = claim_token(request, data.pop("claim_token", None))
        comment = services.comment_create(actor=request.user, claim_token=token, **data)
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=CommentSerializer)
    def retrieve(self, request, pk: int):
        return comment_response(request, int(pk))

    @extend_schema(request=CommentUpdateSerializer, responses=CommentSerializer)
    def update(self, request, pk: int):
        data = validated(CommentUpdateSerializer, request.data)
        services.comment_update(actor=request.user, comment_id=int(pk), **data)
        return comment_response(request, int(pk))

    @extend_schema(request=CommentUpdateSerializer, responses=CommentSerializer)
    def partial_update(self, request, pk: int):
        """PATCH: `text` may be left out (then nothing changes, but the caller must still
        be allowed to edit the comment)."""
        data = validated(CommentUpdateSerializer, request.data, partial=True)
        services.comment_update(actor=request.user, comment_id=int(pk), **data)
        return comment_response(request, int(pk))

    @extend_schema(responses={204: None})
    def destroy(self, request, pk: int):
        services.comment_delete(actor=request.user, comment_id=int(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
