"""Deliveries to a real HTTP receiver on this machine: signatures (checked with the
README's own snippet), retries with the same delivery id, order per webhook, the switch
after 20 failures in a row, timeouts, redirects, big answers, the address check again at
send time, and redelivery. The deliverer runs in the test's thread (`deliver_until`)."""

import itertools
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from boards.models import Board, BoardEvent
from tests.factories import make_board, make_ticket
from tests.webhooks.helpers import deliver_until, make_webhook, readme_verify, snippet
from tests.webhooks.receiver import Receiver
from tickets.services import ticket_move
from webhooks import delivery
from webhooks.models import Webhook, WebhookDelivery
from webhooks.services import delivery_redeliver, webhook_update

pytestmark = pytest.mark.django_db


def last_seq(board) -> int:
    return Board.objects.get(pk=board.pk).last_event_seq


def statuses(webhook) -> list[str]:
    return list(webhook.deliveries.order_by("seq").values_list("status", flat=True))


def test_a_delivery_is_the_event_signed_as_the_readme_says(user, board, receiver):
    verify = readme_verify()
    webhook, secret = make_webhook(user, board, receiver.url)
    ticket = make_ticket(user, board, "Signed")
    deliver_until(lambda: len(receiver.requests) == 1)

    [received] = receiver.requests
    event = BoardEvent.objects.get(board=board, seq=last_seq(board))
    stored = WebhookDelivery.objects.get(webhook=webhook)
    assert verify(secret, received.headers, received.body)
    assert not verify(secret, received.headers, received.body + b" ")
    assert not verify("another secret of enough length", received.headers, received.body)
    assert received.headers["X-Agent-Kanban-Event"] == "ticket_created"
    assert received.headers["X-Agent-Kanban-Delivery"] == str(stored.delivery_id)
    assert received.headers["Content-Type"] == "application/json"
    assert abs(int(received.headers["X-Agent-Kanban-Timestamp"]) - time.time()) < 60
    body = received.json
    assert set(body) == {"delivery_id", "event", "board_id", "seq", "timestamp", "actor", "data"}
    assert body["delivery_id"] == str(stored.delivery_id)
    assert (body["event"], body["board_id"], body["seq"]) == ("ticket_created", board.pk, event.seq)
    assert body["actor"] == user.username
    assert body["data"]["id"] == ticket.pk and body["data"]["title"] == "Signed"
    assert body["timestamp"] == event.created_at.isoformat()
    stored.refresh_from_db()
    assert (stored.status, stored.attempts, stored.last_status_code) == ("delivered", 1, 200)
    assert stored.delivered_at is not None and stored.next_attempt_at is None


def test_the_security_notes_print_the_same_snippet():
    assert snippet("docs/security.md", "Outgoing webhooks") == snippet("README.md", "Webhooks")


def test_500_twice_then_200_is_one_delivery_id_three_times_and_ends_delivered(user, board):
    verify = readme_verify()
    with Receiver(answers=[500, 500]) as receiver:
        webhook, secret = make_webhook(user, board, receiver.url)
        make_ticket(user, board, "Retried")
        deliver_until(lambda: statuses(webhook) == ["delivered"])
    requests = receiver.requests
    assert len(requests) == 3
    assert len({request.delivery_id for request in requests}) == 1
    assert all(verify(secret, request.headers, request.body) for request in requests)
    assert len({request.body for request in requests}) == 1
    # Backed off: 0.05 s, then 0.1 s (the test's base and factor).
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(requests)]
    assert gaps[0] >= 0.04 and gaps[1] >= 0.09
    stored = webhook.deliveries.get()
    assert (stored.attempts, stored.last_status_code, stored.last_error) == (3, 200, "")


def test_the_first_retry_comes_within_10_seconds_and_the_last_after_about_a_day(settings):
    settings.WEBHOOKS_RETRY_BASE_SECONDS, settings.WEBHOOKS_RETRY_FACTOR = 8.0, 3.0
    settings.WEBHOOKS_MAX_ATTEMPTS = 10
    assert delivery.retry_delay(1) <= timedelta(seconds=10)
    waits = [delivery.retry_delay(n) for n in range(1, settings.WEBHOOKS_MAX_ATTEMPTS)]
    assert waits == sorted(waits)
    assert timedelta(hours=18) < sum(waits, timedelta()) < timedelta(hours=30)


def test_a_webhook_gets_its_events_in_seq_order_the_next_waiting_for_a_retry(user, board):
    with Receiver(answers=[503]) as receiver:
        webhook, _ = make_webhook(user, board, receiver.url)
        first = last_seq(board) + 1
        for number in range(5):
            make_ticket(user, board, f"Card {number}")
        deliver_until(lambda: statuses(webhook) == ["delivered"] * 5)
    assert receiver.seqs() == [first, first, first + 1, first + 2, first + 3, first + 4]


def test_a_failing_webhook_holds_up_only_itself(user, board, receiver, settings):
    settings.WEBHOOKS_RETRY_BASE_SECONDS = 0.2
    receiver.respond = lambda handler: handler.path == "/down" and _answer(handler, 500)
    healthy, _ = make_webhook(user, board, receiver.url_for("up"))
    failing, _ = make_webhook(user, board, receiver.url_for("down"))
    first = last_seq(board) + 1
    for number in range(4):
        make_ticket(user, board, f"Card {number}")
    deliver_until(lambda: statuses(healthy) == ["delivered"] * 4)
    assert receiver.seqs("/up") == [first, first + 1, first + 2, first + 3]
    assert set(receiver.seqs("/down")) == {first}
    assert statuses(failing) == ["pending"] * 4


def _answer(handler, status: int, body: bytes = b"", headers: dict | None = None) -> bool:
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
    return True


def test_only_the_events_asked_for_and_only_those_after_the_webhook_was_made(user, board, receiver):
    before = make_ticket(user, board, "Before the webhook")
    webhook, _ = make_webhook(user, board, receiver.url, events=["ticket_moved"])
    ticket_move(actor=user, ticket_id=before.pk, column="Done")
    make_ticket(user, board, "Not a move")
    deliver_until(lambda: statuses(webhook) == ["delivered"])
    [received] = receiver.requests
    assert received.json["event"] == "ticket_moved"
    assert received.json["data"]["from_column"] == "Backlog"
    webhook.refresh_from_db()
    assert webhook.cursor == last_seq(board)


def test_20_failed_deliveries_in_a_row_switch_the_webhook_off(user, board, settings):
    settings.WEBHOOKS_MAX_ATTEMPTS = 1  # each delivery fails at its first attempt
    with Receiver(answers=[500] * 20) as receiver:
        webhook, _ = make_webhook(user, board, receiver.url)
        for number in range(21):
            make_ticket(user, board, f"Card {number}")
        deliver_until(lambda: not Webhook.objects.get(pk=webhook.pk).active)
        time.sleep(0.1)
        delivery.materialise()
        assert delivery.work_waiting(timezone.now()) is False
        assert len(receiver.requests) == 20
        webhook.refresh_from_db()
        assert webhook.consecutive_failures == 20
        assert webhook.disabled_reason.startswith("Switched off after 20 failed deliveries")
        assert "HTTP 500" in webhook.disabled_reason
        assert statuses(webhook) == ["failed"] * 20 + ["pending"]
        audit = AuditEvent.objects.get(action="webhook.disabled")
        assert (audit.board_id, audit.target_id, audit.actor) == (board.pk, str(webhook.pk), None)

        # Switched on again: the count starts afresh and what was queued goes out.
        webhook_update(actor=user, board_id=board.pk, webhook_id=webhook.pk, active=True)
        deliver_until(lambda: statuses(webhook)[-1] == "delivered")
    webhook.refresh_from_db()
    assert (webhook.active, webhook.consecutive_failures, webhook.disabled_reason) == (True, 0, "")
    assert len(receiver.requests) == 21


def test_a_delivered_one_between_failures_resets_the_count(user, board, settings):
    settings.WEBHOOKS_MAX_ATTEMPTS = 1
    settings.WEBHOOKS_DISABLE_AFTER_FAILURES = 3
    with Receiver(answers=[500, 500, 200, 500, 500]) as receiver:
        webhook, _ = make_webhook(user, board, receiver.url)
        for number in range(5):
            make_ticket(user, board, f"Card {number}")
        deliver_until(lambda: len(receiver.requests) == 5)
    webhook.refresh_from_db()
    assert (webhook.active, webhook.consecutive_failures) == (True, 2)


def test_no_answer_within_the_timeout_is_retried(user, board, receiver, settings):
    settings.WEBHOOKS_TIMEOUT_SECONDS = 0.5
    first = []

    def slow_once(handler) -> bool:
        if not first:
            first.append(1)
            time.sleep(1.0)
        return False

    receiver.respond = slow_once
    webhook, _ = make_webhook(user, board, receiver.url)
    make_ticket(user, board, "Slow")
    started = time.monotonic()
    deliver_until(lambda: statuses(webhook) == ["delivered"])
    stored = webhook.deliveries.get()
    assert stored.attempts == 2
    assert time.monotonic() - started < 3


def test_an_answer_trickling_in_is_cut_at_the_timeout(user, board, receiver, settings):
    settings.WEBHOOKS_TIMEOUT_SECONDS = 0.5
    settings.WEBHOOKS_MAX_ATTEMPTS = 1

    def trickle(handler) -> bool:
        handler.send_response(200)
        handler.send_header("Content-Length", "100")
        handler.end_headers()
        try:
            for _ in range(30):
                handler.wfile.write(b"x")
                handler.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass
        return True

    receiver.respond = trickle
    webhook, _ = make_webhook(user, board, receiver.url)
    make_ticket(user, board, "Trickled")
    started = time.monotonic()
    deliver_until_attempts(webhook, 1)
    assert time.monotonic() - started < 2
    stored = webhook.deliveries.get()
    assert stored.status == "failed" and "No answer within 0.5 s" in stored.last_error


def deliver_until_attempts(webhook, attempts: int) -> None:
    deliver_until(lambda: sum(webhook.deliveries.values_list("attempts", flat=True)) >= attempts)


def test_redirects_are_not_followed(user, board, receiver, settings):
    settings.WEBHOOKS_MAX_ATTEMPTS = 1
    receiver.respond = lambda handler: (
        handler.path == "/hook"
        and _answer(handler, 302, headers={"Location": receiver.url_for("elsewhere")})
    )
    webhook, _ = make_webhook(user, board, receiver.url)
    make_ticket(user, board, "Redirected")
    deliver_until_attempts(webhook, 1)
    stored = webhook.deliveries.get()
    assert (stored.status, stored.last_status_code) == ("failed", 302)
    assert "redirects are not followed" in stored.last_error
    assert [request.path for request in receiver.requests] == ["/hook"]


def test_only_64_kib_of_an_answer_are_read(user, board, receiver):
    def huge(handler) -> bool:
        handler.send_response(200)
        handler.send_header("Content-Length", str(50 * 1024 * 1024))
        handler.end_headers()
        try:
            for _ in range(50 * 16):
                handler.wfile.write(b"x" * 65536)
        except OSError:
            pass  # the deliverer hung up after 64 KiB
        return True

    receiver.respond = huge
    webhook, _ = make_webhook(user, board, receiver.url)
    make_ticket(user, board, "Big answer")
    started = time.monotonic()
    deliver_until(lambda: statuses(webhook) == ["delivered"])
    assert time.monotonic() - started < 3


def test_an_error_answer_is_kept_short(user, board, receiver, settings):
    settings.WEBHOOKS_MAX_ATTEMPTS = 1
    receiver.respond = lambda handler: _answer(handler, 422, b"bad payload " + b"y" * 5000)
    webhook, _ = make_webhook(user, board, receiver.url)
    make_ticket(user, board, "Refused")
    deliver_until_attempts(webhook, 1)
    stored = webhook.deliveries.get()
    assert stored.last_status_code == 422
    assert stored.last_error.startswith("HTTP 422: bad payload yyy")
    assert len(stored.last_error) <= 500


def test_the_address_is_checked_again_at_send_time(user, board, receiver, settings):
    """Saved while private addresses were allowed; by the time of the attempt they are
    not (as when a public name is re-pointed at an internal address): nothing is sent."""
    settings.WEBHOOKS_MAX_ATTEMPTS = 1
    webhook, _ = make_webhook(user, board, receiver.url.replace("127.0.0.1", "localhost"))
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    make_ticket(user, board, "Rebound")
    deliver_until_attempts(webhook, 1)
    stored = webhook.deliveries.get()
    assert stored.status == "failed" and stored.last_status_code is None
    assert "loopback address" in stored.last_error
    assert receiver.requests == []


def test_the_host_header_keeps_the_name_while_the_connection_goes_to_its_address(
    user, board, receiver
):
    port = receiver.server.server_port
    webhook, _ = make_webhook(user, board, f"http://localhost:{port}/hook?source=kanban")
    make_ticket(user, board, "Named")
    deliver_until(lambda: statuses(webhook) == ["delivered"])
    [received] = receiver.requests
    assert received.headers["Host"] == f"localhost:{port}"
    assert received.path == "/hook?source=kanban"


def test_a_connection_refused_is_retried(user, board, settings):
    with Receiver() as receiver:
        url = receiver.url
    settings.WEBHOOKS_MAX_ATTEMPTS = 2
    webhook, _ = make_webhook(user, board, url)  # nobody listens there any more
    make_ticket(user, board, "Nobody home")
    deliver_until_attempts(webhook, 2)
    stored = webhook.deliveries.get()
    assert stored.status == "failed" and "Connection" in stored.last_error


def test_redeliver_sends_the_same_delivery_again(user, board, receiver):
    webhook, _ = make_webhook(user, board, receiver.url)
    make_ticket(user, board, "Again")
    deliver_until(lambda: len(receiver.requests) == 1)
    stored = webhook.deliveries.get()
    delivery_redeliver(
        actor=user, board_id=board.pk, webhook_id=webhook.pk, delivery_id=str(stored.delivery_id)
    )
    assert webhook.deliveries.get().status == "pending"
    deliver_until(lambda: len(receiver.requests) == 2)
    assert receiver.requests[0].delivery_id == receiver.requests[1].delivery_id
    assert webhook.deliveries.get().status == "delivered"
    assert AuditEvent.objects.filter(action="webhook.redelivered").count() == 1


def test_events_while_switched_off_are_not_sent(user, board, receiver):
    webhook, _ = make_webhook(user, board, receiver.url)
    webhook_update(actor=user, board_id=board.pk, webhook_id=webhook.pk, active=False)
    make_ticket(user, board, "While off")
    deliver_until_idle_twice()
    webhook_update(actor=user, board_id=board.pk, webhook_id=webhook.pk, active=True)
    make_ticket(user, board, "While on")
    deliver_until(lambda: len(receiver.requests) == 1)
    assert receiver.requests[0].json["data"]["title"] == "While on"


def deliver_until_idle_twice() -> None:
    from webhooks.worker import deliver_until_idle

    deliver_until_idle()
    deliver_until_idle()


def test_finished_deliveries_are_pruned_after_the_keep_days(user, receiver, settings):
    board = make_board(user, "Pruned")
    webhook, _ = make_webhook(user, board, receiver.url)
    make_ticket(user, board, "Old")
    make_ticket(user, board, "Recent")
    deliver_until(lambda: len(receiver.requests) == 2)
    old, recent = webhook.deliveries.order_by("seq")
    WebhookDelivery.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=settings.WEBHOOKS_KEEP_DAYS + 1)
    )
    assert delivery.prune() == 1
    assert list(webhook.deliveries.values_list("pk", flat=True)) == [recent.pk]
