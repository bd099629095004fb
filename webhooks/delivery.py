"""The deliverer's reads and writes: the system's own, so no actor.

The board event log is the outbox. Each event row commits with the change it records, so
nothing a crash could lose stands between a write and its webhooks: `materialise` turns
the events after a webhook's cursor into WebhookDelivery rows and moves the cursor, in
one transaction (a delivery per (webhook, seq) at most), and the write path does no
webhook work at all.

Sending keeps sequence order per webhook: only a webhook's oldest pending delivery is
ever sent, so seq N+1 waits until N is delivered or has failed. A deliverer first takes
a lease on the webhook (`claim`: SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL, so
concurrent deliverers never pick the same webhook; on SQLite the claim queues on the
database's write lock), then sends outside any transaction, holding no row lock while it
waits on the network. A lease outlives the longest attempt; a deliverer that dies
holding one leaves the webhook to others once it runs out."""

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from audit.services import audit_record
from boards.events import event_message
from boards.models import Board, BoardEvent
from webhooks import sender
from webhooks.models import Webhook, WebhookDelivery
from webhooks.rules import (
    ALL_EVENTS,
    DELIVERED,
    FAILED,
    MATERIALISE_BATCH,
    PENDING,
    SEND_BATCH,
)

logger = logging.getLogger(__name__)


def hand_back_connection() -> None:
    """Between two pieces of database work: the connection goes back to the pool (or is
    closed, as CONN_MAX_AGE says). Not on SQLite, where a connection is a file handle and
    holds nothing on a server, and closing the last one checkpoints the WAL (4 ms here)."""
    if connection.vendor != "sqlite" and not connection.in_atomic_block:
        close_old_connections()


def lease_seconds() -> float:
    return 2 * settings.WEBHOOKS_TIMEOUT_SECONDS + 5


def retry_delay(attempts: int) -> timedelta:
    """How long after its `attempts`-th failed attempt a delivery is tried again."""
    base, factor = settings.WEBHOOKS_RETRY_BASE_SECONDS, settings.WEBHOOKS_RETRY_FACTOR
    return timedelta(seconds=base * factor ** max(attempts - 1, 0))


def _free(now: datetime) -> Q:
    return Q(lease_until__isnull=True) | Q(lease_until__lte=now)


def work_waiting(now: datetime) -> bool:
    """Is there anything to do: events not yet turned into deliveries, or a due delivery
    of a webhook nobody holds? One query, written out here because every deliverer asks
    it twenty times a second: compiling it through the ORM cost six times what running
    it did (0.5 ms against 0.08). The conditions are those of `materialise` and `claim`."""
    quote = connection.ops.quote_name
    webhooks, boards = quote(Webhook._meta.db_table), quote(Board._meta.db_table)
    at = connection.ops.adapt_datetimefield_value(now)
    sql = (
        f"SELECT 1 FROM {webhooks} w JOIN {boards} b ON b.{quote('id')} = w.{quote('board_id')}"
        f" WHERE w.{quote('active')} AND (w.{quote('cursor')} < b.{quote('last_event_seq')}"
        f" OR (w.{quote('next_attempt_at')} <= %s AND (w.{quote('lease_until')} IS NULL"
        f" OR w.{quote('lease_until')} <= %s))) LIMIT 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [at, at])
        return cursor.fetchone() is not None


# ---------------------------------------------------------------- the outbox


def materialise(now: datetime | None = None) -> int:
    """Deliveries for every event after each active webhook's cursor; their number."""
    now = now or timezone.now()
    made, more = 0, True
    while more:
        count, more = _materialise_batch(now)
        made += count
    return made


def _materialise_batch(now: datetime) -> tuple[int, bool]:
    """One transaction: up to MATERIALISE_BATCH events of each board for the webhooks
    behind it (each board's events read once); the deliveries made, and whether any
    webhook is still behind. Webhooks another deliverer is at are skipped."""
    with transaction.atomic():
        behind = list(
            Webhook.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(active=True, cursor__lt=F("board__last_event_seq"))
            .annotate(board_seq=F("board__last_event_seq"))
            .order_by("board_id", "pk")
        )
        boards: dict[int, list[Webhook]] = {}
        for webhook in behind:
            boards.setdefault(webhook.board_id, []).append(webhook)
        rows, more = [], False
        for board_id, webhooks in boards.items():
            low = min(webhook.cursor for webhook in webhooks)
            upto = min(webhooks[0].board_seq, low + MATERIALISE_BATCH)
            more = more or upto < webhooks[0].board_seq
            # Every event up to the board's counter has committed: the counter is bumped
            # in the same transaction as the event row.
            events = [
                (event.seq, event.type, event_message(event))
                for event in BoardEvent.objects.filter(
                    board_id=board_id, seq__gt=low, seq__lte=upto
                )
                .select_related("actor")
                .order_by("seq")
            ]
            for webhook in webhooks:
                every = ALL_EVENTS in webhook.events
                queued = [
                    _delivery(webhook, seq, kind, message, now)
                    for seq, kind, message in events
                    if seq > webhook.cursor and (every or kind in webhook.events)
                ]
                if queued and webhook.next_attempt_at is None:
                    webhook.next_attempt_at = now
                webhook.cursor = max(webhook.cursor, upto)
                rows += queued
        WebhookDelivery.objects.bulk_create(rows, batch_size=200)
        Webhook.objects.bulk_update(behind, ["cursor", "next_attempt_at"])
    return len(rows), more


def _delivery(webhook: Webhook, seq: int, kind: str, message: dict, now) -> WebhookDelivery:
    delivery_id = uuid.uuid4()
    return WebhookDelivery(
        webhook=webhook,
        delivery_id=delivery_id,
        seq=seq,
        event=kind,
        body={"delivery_id": str(delivery_id), **message},
        next_attempt_at=now,
    )


# ---------------------------------------------------------------- leases


def claim(*, slots: int, exclude: set[int], now: datetime | None = None) -> list[Webhook]:
    """Lease up to `slots` webhooks with a delivery due, soonest first. Each carries its
    `lease_token`, which proves the lease is still this deliverer's."""
    if slots <= 0:
        return []
    now = now or timezone.now()
    token = uuid.uuid4().hex
    with transaction.atomic():
        due = list(
            Webhook.objects.select_for_update(skip_locked=True)
            .filter(_free(now), active=True, next_attempt_at__lte=now)
            .exclude(pk__in=exclude)
            .order_by("next_attempt_at", "pk")[:slots]
        )
        if due:
            until = now + timedelta(seconds=lease_seconds())
            Webhook.objects.filter(pk__in=[webhook.pk for webhook in due]).update(
                lease_until=until, lease_token=token
            )
            for webhook in due:
                webhook.lease_until, webhook.lease_token = until, token
    return due


def release(webhook_id: int, token: str) -> None:
    """Give the lease back, with the webhook's next due time read under its row lock
    (a materialise that just queued deliveries is seen, never overwritten)."""
    with transaction.atomic():
        webhook = (
            Webhook.objects.select_for_update().filter(pk=webhook_id, lease_token=token).first()
        )
        if webhook is None:
            return
        webhook.lease_until, webhook.lease_token = None, ""
        webhook.next_attempt_at = head_due_at(webhook_id)
        webhook.save(update_fields=["lease_until", "lease_token", "next_attempt_at"])


def head_due_at(webhook_id: int) -> datetime | None:
    """When the webhook's oldest pending delivery is due (None: nothing pending)."""
    return (
        WebhookDelivery.objects.filter(webhook_id=webhook_id, status=PENDING)
        .order_by("seq")
        .values_list("next_attempt_at", flat=True)
        .first()
    )


# ---------------------------------------------------------------- sending


def send_due(leased: Webhook, *, stopping=lambda: False) -> int:
    """Send the leased webhook's due deliveries, oldest first, until none is due, the
    lease is lost or `stopping()` says so; the number of attempts made."""
    attempts, webhook_id, token = 0, leased.pk, leased.lease_token
    webhook: Webhook | None = leased
    try:
        while webhook is not None and not stopping():
            queue = list(
                WebhookDelivery.objects.filter(webhook_id=webhook_id, status=PENDING).order_by(
                    "seq"
                )[:SEND_BATCH]
            )
            if not queue:
                break
            for delivery in queue:
                due = delivery.next_attempt_at
                if stopping() or (due is not None and due > timezone.now()):
                    return attempts
                outcome = attempt(webhook, delivery)
                attempts += 1
                webhook, recorded = record(
                    webhook=webhook, token=token, delivery=delivery, outcome=outcome
                )
                # Lost, or to be tried again later (the next waits for it), or changed
                # meanwhile (redelivered): look at the queue afresh.
                if webhook is None or not recorded or delivery.status == PENDING:
                    break
    finally:
        release(webhook_id, token)
    return attempts


def attempt(webhook: Webhook, delivery: WebhookDelivery) -> sender.Outcome:
    raw = sender.encode(delivery.body)
    request_headers = sender.headers(
        secret=webhook.secret,
        event=delivery.event,
        delivery_id=str(delivery.delivery_id),
        raw_body=raw,
    )
    # No database connection is needed while the receiver thinks.
    hand_back_connection()
    return sender.post(
        webhook.url,
        raw,
        request_headers,
        timeout=settings.WEBHOOKS_TIMEOUT_SECONDS,
        allow_private=settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES,
    )


def record(
    *, webhook: Webhook, token: str, delivery: WebhookDelivery, outcome: sender.Outcome
) -> tuple[Webhook | None, bool]:
    """Write down one attempt: delivered, to be tried again, or failed for good; switch
    the webhook off after WEBHOOKS_DISABLE_AFTER_FAILURES failed deliveries in a row.

    Returns the webhook as it stands now, or None when this deliverer may not go on with
    it (gone, switched off, its lease taken), and whether the attempt was written: not
    when the delivery changed since it was read (redelivered, or finished by another
    deliverer after this one's lease ran out)."""
    now = timezone.now()
    attempts = delivery.attempts + 1
    changes = {
        "attempts": attempts,
        "last_attempt_at": now,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
        "next_attempt_at": None,
    }
    if outcome.ok:
        changes.update(status=DELIVERED, delivered_at=now)
    elif attempts >= settings.WEBHOOKS_MAX_ATTEMPTS:
        changes.update(status=FAILED)
    else:
        changes.update(next_attempt_at=now + retry_delay(attempts))
    with transaction.atomic():
        current = Webhook.objects.select_for_update().filter(pk=webhook.pk).first()
        if current is None:
            return None, False
        recorded = bool(
            WebhookDelivery.objects.filter(
                pk=delivery.pk, status=PENDING, attempts=delivery.attempts
            ).update(**changes)
        )
        fields = []
        if recorded:
            for name, value in changes.items():
                setattr(delivery, name, value)
            failures = 0 if outcome.ok else current.consecutive_failures
            if delivery.status == FAILED:
                failures += 1
            if failures != current.consecutive_failures:
                current.consecutive_failures = failures
                fields.append("consecutive_failures")
            limit = settings.WEBHOOKS_DISABLE_AFTER_FAILURES
            if current.active and delivery.status == FAILED and failures >= limit:
                _switch_off(current, delivery, now)
                fields += ["active", "disabled_reason", "disabled_at"]
        lease = timedelta(seconds=lease_seconds())
        # Renewed once half of it has gone: an UPDATE less for most deliveries.
        if current.lease_token == token and current.lease_until - now < lease / 2:
            current.lease_until = now + lease
            fields.append("lease_until")
        if fields:
            current.save(update_fields=fields)
    ours = current.active and current.lease_token == token
    return (current if ours else None), recorded


def _switch_off(webhook: Webhook, delivery: WebhookDelivery, now: datetime) -> None:
    webhook.active = False
    webhook.disabled_at = now
    webhook.disabled_reason = (
        f"Switched off after {webhook.consecutive_failures} failed deliveries in a row "
        f"(the last: {delivery.last_error or 'no answer'})"
    )[:300]
    audit_record(
        actor=None,
        action="webhook.disabled",
        board_id=webhook.board_id,
        target_type="webhook",
        target_id=webhook.pk,
        details={
            "url": webhook.url,
            "failures": webhook.consecutive_failures,
            "last_error": delivery.last_error,
        },
    )
    logger.warning("Webhook %s switched off: %s", webhook.pk, webhook.disabled_reason)


# ---------------------------------------------------------------- retention


def prune(now: datetime | None = None, *, batch: int = 1000) -> int:
    """Delete finished deliveries older than WEBHOOKS_KEEP_DAYS, a batch at a time."""
    now = now or timezone.now()
    before = now - timedelta(days=settings.WEBHOOKS_KEEP_DAYS)
    old = WebhookDelivery.objects.filter(status__in=[DELIVERED, FAILED], created_at__lt=before)
    removed = 0
    while ids := list(old.values_list("pk", flat=True)[:batch]):
        removed += WebhookDelivery.objects.filter(pk__in=ids).delete()[0]
    return removed
