"""Every write a board admin makes to webhooks: add, change, remove, redeliver. Audited,
not in the board's event log (like memberships: the log counts work on the board)."""

import secrets as random_secrets
import uuid

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from boards.access import ADMIN, require_board
from boards.services import board_get_for_write
from core.errors import Conflict, InvalidInput, NotFound, field_error
from core.ids import is_id
from core.transactions import retry_once_on_deadlock
from webhooks import addresses
from webhooks.delivery import head_due_at
from webhooks.models import Webhook, WebhookDelivery
from webhooks.rules import (
    ALL_EVENTS,
    EVENT_TYPES,
    PENDING,
    SECRET_MAX,
    SECRET_MIN,
    WEBHOOKS_PER_BOARD_MAX,
)

FIELDS = ("url", "events", "secret", "active")


def _invalid(field: str, message: str, code: str = "invalid") -> InvalidInput:
    return InvalidInput(
        f"{field}: {message}", code=code, validation_errors=[field_error(field, message, code)]
    )


def clean_url(url) -> str:
    """The URL, when webhooks may go there now (addresses.py); else a 400."""
    try:
        addresses.check(url, allow_private=settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES)
    except addresses.UrlRefused as refused:
        raise _invalid("url", refused.message, refused.code) from None
    return url.strip()


def clean_events(events) -> list[str]:
    if events is None:
        return [ALL_EVENTS]
    if not isinstance(events, list) or not events:
        raise _invalid("events", 'A list of event types, or ["*"] for all of them.')
    if not all(isinstance(event, str) for event in events):
        raise _invalid("events", "Event types are strings.")
    if ALL_EVENTS in events:
        if len(events) > 1:
            raise _invalid("events", '"*" means every event type and stands alone.')
        return [ALL_EVENTS]
    unknown = [event for event in events if event not in EVENT_TYPES]
    if unknown:
        raise _invalid(
            "events",
            f"Unknown event type(s): {', '.join(unknown)}. Known: {', '.join(EVENT_TYPES)}.",
            "unknown_event",
        )
    return [event for event in EVENT_TYPES if event in events]


def clean_secret(secret) -> str:
    if secret is None:
        return random_secrets.token_urlsafe(32)
    if not isinstance(secret, str) or not SECRET_MIN <= len(secret) <= SECRET_MAX:
        raise _invalid("secret", f"From {SECRET_MIN} to {SECRET_MAX} characters.")
    if not secret.isascii() or not secret.isprintable():
        raise _invalid("secret", "Printable ASCII characters only.")
    return secret


def _clean_active(active) -> bool:
    if not isinstance(active, bool):
        raise _invalid("active", "Must be true or false.")
    return active


def _webhook_for_write(board_id: int, webhook_id) -> Webhook:
    webhook = None
    if is_id(webhook_id):
        webhook = (
            Webhook.objects.select_for_update().filter(pk=webhook_id, board_id=board_id).first()
        )
    if webhook is None:
        raise NotFound(f"Webhook {webhook_id} does not exist.", code="webhook_not_found")
    return webhook


def _audit(actor, action: str, webhook: Webhook, **details) -> None:
    audit_record(
        actor=actor,
        action=action,
        board_id=webhook.board_id,
        target_type="webhook",
        target_id=webhook.pk,
        details={"url": webhook.url, **details},
    )


@retry_once_on_deadlock
def webhook_create(
    *, actor, board_id: int, url, events=None, secret=None, active=True
) -> tuple[Webhook, str]:
    """Add a webhook; it receives the board's events from now on. Returns it with its
    secret, which is never shown again. Board admins only."""
    # Asked first, so that nobody else learns what a URL resolves to.
    require_board(actor, board_id, ADMIN)
    url, events = clean_url(url), clean_events(events)
    secret, active = clean_secret(secret), _clean_active(active)
    with transaction.atomic():
        require_board(actor, board_id, ADMIN)
        board = board_get_for_write(board_id)
        if Webhook.objects.filter(board_id=board_id).count() >= WEBHOOKS_PER_BOARD_MAX:
            raise Conflict(
                f"A board has at most {WEBHOOKS_PER_BOARD_MAX} webhooks.", code="too_many_webhooks"
            )
        webhook = Webhook.objects.create(
            board=board,
            url=url,
            events=events,
            secret=secret,
            active=active,
            created_by=actor if getattr(actor, "pk", None) else None,
            cursor=board.last_event_seq,
            disabled_at=None if active else timezone.now(),
            disabled_reason="" if active else _paused_by(actor),
        )
        _audit(actor, "webhook.created", webhook, events=events, active=active)
    return webhook, secret


def _paused_by(actor) -> str:
    return f"Switched off by {getattr(actor, 'username', None) or 'an operator'}"


@retry_once_on_deadlock
def webhook_update(*, actor, board_id: int, webhook_id: int, **changes) -> Webhook:
    """Change `url`, `events`, `secret` or `active`. Switching a webhook on again clears
    its failures and starts it at the board's latest event: what happened while it was
    off is not sent, what was queued before stays queued. Board admins only."""
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(unknown)}.")
    require_board(actor, board_id, ADMIN)
    cleaned = {}
    if "url" in changes:
        cleaned["url"] = clean_url(changes["url"])
    if "events" in changes:
        cleaned["events"] = clean_events(changes["events"])
    if "secret" in changes:
        cleaned["secret"] = clean_secret(changes["secret"])
    if "active" in changes:
        cleaned["active"] = _clean_active(changes["active"])
    with transaction.atomic():
        require_board(actor, board_id, ADMIN)
        board = board_get_for_write(board_id)
        webhook = _webhook_for_write(board_id, webhook_id)
        changed = [key for key, value in cleaned.items() if getattr(webhook, key) != value]
        if not changed:
            return webhook
        for key in changed:
            setattr(webhook, key, cleaned[key])
        if "active" in changed and webhook.active:
            webhook.consecutive_failures, webhook.disabled_reason = 0, ""
            webhook.disabled_at = None
            webhook.cursor = board.last_event_seq
            webhook.next_attempt_at = head_due_at(webhook.pk)
        elif "active" in changed:
            webhook.disabled_reason, webhook.disabled_at = _paused_by(actor), timezone.now()
        webhook.save()
        shown = {key: ("(changed)" if key == "secret" else cleaned[key]) for key in changed}
        _audit(actor, "webhook.updated", webhook, changes=shown)
    return webhook


@retry_once_on_deadlock
def webhook_delete(*, actor, board_id: int, webhook_id: int) -> None:
    """Remove a webhook with its deliveries, sent or not. Board admins only."""
    with transaction.atomic():
        require_board(actor, board_id, ADMIN)
        board_get_for_write(board_id)
        webhook = _webhook_for_write(board_id, webhook_id)
        _audit(actor, "webhook.deleted", webhook)
        webhook.delete()


def parse_delivery_id(raw) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        return None


@retry_once_on_deadlock
def delivery_redeliver(*, actor, board_id: int, webhook_id: int, delivery_id) -> WebhookDelivery:
    """Send a delivery again, now and with the same delivery id (receivers that keep the
    ids they have seen must let a redelivery through). It goes before the webhook's
    later pending deliveries, as its sequence number says. Board admins only."""
    with transaction.atomic():
        require_board(actor, board_id, ADMIN)
        webhook = _webhook_for_write(board_id, webhook_id)
        parsed = parse_delivery_id(delivery_id)
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .filter(webhook=webhook, delivery_id=parsed)
            .first()
            if parsed
            else None
        )
        if delivery is None:
            raise NotFound(f"Delivery {delivery_id} does not exist.", code="delivery_not_found")
        if not webhook.active:
            raise Conflict(
                "The webhook is switched off: switch it on to send deliveries.",
                code="webhook_inactive",
            )
        delivery.status, delivery.attempts = PENDING, 0
        delivery.next_attempt_at, delivery.delivered_at = timezone.now(), None
        delivery.save()
        webhook.next_attempt_at = head_due_at(webhook.pk)
        webhook.save(update_fields=["next_attempt_at"])
        _audit(actor, "webhook.redelivered", webhook, delivery_id=str(delivery.delivery_id))
    return delivery
