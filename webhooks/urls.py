"""The REST paths of outgoing webhooks, under /api/."""

from django.urls import re_path

from webhooks import api

WEBHOOK = r"^boards/(?P<board_id>\d+)/webhooks/(?P<webhook_id>\d+)"

urlpatterns = [
    re_path(
        r"^boards/(?P<board_id>\d+)/webhooks/?$",
        api.WebhookListView.as_view(),
        name="board-webhooks",
    ),
    re_path(WEBHOOK + r"/?$", api.WebhookDetailView.as_view(), name="board-webhook"),
    re_path(
        WEBHOOK + r"/deliveries/?$",
        api.DeliveryListView.as_view(),
        name="board-webhook-deliveries",
    ),
    re_path(
        WEBHOOK + r"/deliveries/(?P<delivery_id>[^/]+)/redeliver/?$",
        api.RedeliverView.as_view(),
        name="board-webhook-redeliver",
    ),
]
