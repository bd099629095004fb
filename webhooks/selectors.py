"""Reads of webhooks and their deliveries: board admins only, like the writes (a webhook's
URL and its deliveries' bodies are the admins' business)."""

from django.db.models import QuerySet

from boards.access import ADMIN, require_board
from core.errors import InvalidInput, NotFound, field_error
from core.ids import is_id
from webhooks.models import Webhook, WebhookDelivery
from webhooks.rules import STATUSES


def webhook_list(*, actor, board_id: int) -> QuerySet[Webhook]:
    require_board(actor, board_id, ADMIN)
    return Webhook.objects.filter(board_id=board_id).select_related("created_by").order_by("pk")


def webhook_get(*, actor, board_id: int, webhook_id: int) -> Webhook:
    webhook = None
    if is_id(webhook_id):
        webhook = webhook_list(actor=actor, board_id=board_id).filter(pk=webhook_id).first()
    else:
        require_board(actor, board_id, ADMIN)
    if webhook is None:
        raise NotFound(f"Webhook {webhook_id} does not exist.", code="webhook_not_found")
    return webhook


def delivery_list(
    *, actor, board_id: int, webhook_id: int, status: str | None = None
) -> QuerySet[WebhookDelivery]:
    """The webhook's deliveries, newest event first; `status` narrows them."""
    webhook = webhook_get(actor=actor, board_id=board_id, webhook_id=webhook_id)
    deliveries = WebhookDelivery.objects.filter(webhook=webhook).order_by("-seq")
    if status not in (None, ""):
        if status not in STATUSES:
            message = f"Must be one of {', '.join(STATUSES)}."
            raise InvalidInput(
                f"status: {message}", validation_errors=[field_error("status", message)]
            )
        deliveries = deliveries.filter(status=status)
    return deliveries.defer("body")


def recent_deliveries(webhook_ids: list[int], per_webhook: int) -> dict[int, list]:
    """The latest `per_webhook` deliveries of each webhook (the Webhooks page)."""
    found: dict[int, list] = {pk: [] for pk in webhook_ids}
    for pk in webhook_ids:
        rows = WebhookDelivery.objects.filter(webhook_id=pk).defer("body").order_by("-seq")
        found[pk] = list(rows[:per_webhook])
    return found
