import uuid

from django.conf import settings
from django.db import models

from webhooks.rules import DELIVERED, FAILED, PENDING, SECRET_MAX, URL_MAX


class Webhook(models.Model):
    """A receiver of a board's events. The board event log is the outbox: `cursor` is
    the last event sequence number turned into deliveries for this webhook."""

    board = models.ForeignKey("boards.Board", on_delete=models.CASCADE, related_name="webhooks")
    url = models.CharField(max_length=URL_MAX)
    # Event types, or ["*"] for every type.
    events = models.JSONField(default=list)
    # Kept in the clear: it signs every delivery. Shown once, on creation.
    secret = models.CharField(max_length=SECRET_MAX)
    active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_reason = models.CharField(max_length=300, blank=True, default="")
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    cursor = models.BigIntegerField(default=0)
    # When the oldest pending delivery is due (None: nothing pending). Kept here so the
    # deliverer finds due work in one indexed query, and sends in sequence order.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A deliverer sending this webhook's deliveries holds it until then (see delivery.py).
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        ordering = ["board_id", "id"]
        indexes = [models.Index(fields=["active", "next_attempt_at"], name="webhook_due")]

    def __str__(self) -> str:
        return f"{self.url} (board {self.board_id})"


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = PENDING, "Pending"
        DELIVERED = DELIVERED, "Delivered"
        FAILED = FAILED, "Failed"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    # What receivers see in X-Agent-Kanban-Delivery: the same on every attempt.
    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    seq = models.BigIntegerField()
    event = models.CharField(max_length=40)
    body = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["webhook_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["webhook", "seq"], name="one_delivery_per_event"),
        ]
        indexes = [
            models.Index(fields=["webhook", "status", "seq"], name="delivery_queue"),
            models.Index(fields=["status", "created_at"], name="delivery_age"),
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.event} #{self.seq} ({self.status})"
