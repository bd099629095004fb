"""The webhooks of a board over REST: board admins only (anyone else who may read the
board gets 403 `board_admin_required`; who may not, 404, as for a missing board)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from core.adapters import validated
from webhooks import selectors, services
from webhooks.rules import STATUSES
from webhooks.serializers import (
    DeliverySerializer,
    WebhookCreatedSerializer,
    WebhookCreateSerializer,
    WebhookSerializer,
    WebhookUpdateSerializer,
)


def _webhook(request, board_id, webhook_id, status_code: int = 200) -> Response:
    webhook = selectors.webhook_get(
        actor=request.user, board_id=int(board_id), webhook_id=int(webhook_id)
    )
    return Response(WebhookSerializer(webhook).data, status=status_code)


class WebhookListView(GenericAPIView):
    """GET the board's webhooks; POST adds one (its `secret` is in that answer only)."""

    serializer_class = WebhookSerializer

    @extend_schema(responses=WebhookSerializer(many=True))
    def get(self, request, board_id):
        webhooks = selectors.webhook_list(actor=request.user, board_id=int(board_id))
        page = self.paginate_queryset(webhooks)
        return self.get_paginated_response(WebhookSerializer(page, many=True).data)

    @extend_schema(request=WebhookCreateSerializer, responses={201: WebhookCreatedSerializer})
    def post(self, request, board_id):
        data = validated(WebhookCreateSerializer, request.data)
        webhook, secret = services.webhook_create(
            actor=request.user, board_id=int(board_id), **data
        )
        webhook = selectors.webhook_get(
            actor=request.user, board_id=int(board_id), webhook_id=webhook.pk
        )
        body = {**WebhookSerializer(webhook).data, "secret": secret}
        return Response(body, status=status.HTTP_201_CREATED)


class WebhookDetailView(GenericAPIView):
    serializer_class = WebhookSerializer

    @extend_schema(responses=WebhookSerializer)
    def get(self, request, board_id, webhook_id):
        return _webhook(request, board_id, webhook_id)

    @extend_schema(request=WebhookUpdateSerializer, responses=WebhookSerializer)
    def patch(self, request, board_id, webhook_id):
        """Change `url`, `events`, `secret` (write-only) or `active`. Switching a webhook
        on again clears its failures; events from while it was off are not sent."""
        data = validated(WebhookUpdateSerializer, request.data)
        services.webhook_update(
            actor=request.user, board_id=int(board_id), webhook_id=int(webhook_id), **data
        )
        return _webhook(request, board_id, webhook_id)

    @extend_schema(responses={204: None})
    def delete(self, request, board_id, webhook_id):
        services.webhook_delete(
            actor=request.user, board_id=int(board_id), webhook_id=int(webhook_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeliveryListView(GenericAPIView):
    serializer_class = DeliverySerializer

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=list(STATUSES), description="Only this.")],
        responses=DeliverySerializer(many=True),
    )
    def get(self, request, board_id, webhook_id):
        """The webhook's deliveries, newest event first: status, attempts, the last answer's
        status code and time, the next attempt."""
        deliveries = selectors.delivery_list(
            actor=request.user,
            board_id=int(board_id),
            webhook_id=int(webhook_id),
            status=request.query_params.get("status"),
        )
        page = self.paginate_queryset(deliveries)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)


class RedeliverView(GenericAPIView):
    serializer_class = DeliverySerializer

    @extend_schema(request=None, responses={202: DeliverySerializer})
    def post(self, request, board_id, webhook_id, delivery_id):
        """Send the delivery again, now, with the same delivery id."""
        delivery = services.delivery_redeliver(
            actor=request.user,
            board_id=int(board_id),
            webhook_id=int(webhook_id),
            delivery_id=delivery_id,
        )
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
