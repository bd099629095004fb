"""Who delivers: a loop that looks for work every WEBHOOKS_POLL_MS with one cheap query,
turns new events into deliveries, and hands leased webhooks to WEBHOOKS_CONCURRENCY
sending threads (one slow receiver holds up only its own webhook).

It runs as `manage.py deliver_webhooks` (production: several may run at once), or in the
server process itself in the embedded shape (`start_in_process`, from agent_kanban.asgi)."""

import logging
import queue
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import connections
from django.utils import timezone

from webhooks import delivery

logger = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(hours=1)
ERROR_PAUSE_SECONDS = 1.0


class Deliverer:
    def __init__(self, *, concurrency: int | None = None, poll_ms: int | None = None) -> None:
        self.concurrency = max(1, concurrency or settings.WEBHOOKS_CONCURRENCY)
        self.poll = max(0.005, (poll_ms or settings.WEBHOOKS_POLL_MS) / 1000)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._in_flight: set[int] = set()
        self._jobs: queue.Queue = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._pruned_at = None

    # ------------------------------------------------------------ the loop

    def run(self) -> None:
        """Deliver until `stop()`."""
        self._start_senders()
        try:
            while not self._stop.is_set():
                busy = False
                # The loop keeps its connection between passes: it needs it again in
                # WEBHOOKS_POLL_MS, and taking one from the pool and giving it back
                # twenty times a second cost more than the query (3 % of a core, idle).
                try:
                    busy = self.tick()
                except Exception:
                    # The database may be down or busy: try again shortly, never die.
                    logger.warning("Webhook delivery pass failed", exc_info=True)
                    connections.close_all()  # a broken connection is replaced next time
                    self._stop.wait(ERROR_PAUSE_SECONDS)
                if not busy:
                    self._wake.wait(self.poll)
                    self._wake.clear()
        finally:
            self._finish()

    def tick(self) -> bool:
        """One pass: True when it found work to hand out."""
        now = timezone.now()
        self._maybe_prune(now)
        if not delivery.work_waiting(now):
            return False
        delivery.materialise(now)
        with self._lock:
            free = self.concurrency - len(self._in_flight)
            busy = set(self._in_flight)
        leased = delivery.claim(slots=free, exclude=busy)
        for webhook in leased:
            with self._lock:
                self._in_flight.add(webhook.pk)
            self._jobs.put(webhook)
        return bool(leased)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    # ------------------------------------------------------------ sending threads

    def _start_senders(self) -> None:
        for number in range(self.concurrency):
            thread = threading.Thread(
                target=self._send_loop, name=f"webhook-sender-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _send_loop(self) -> None:
        try:
            while True:
                webhook = self._jobs.get()
                if webhook is None:
                    return
                try:
                    delivery.send_due(webhook, stopping=self._stop.is_set)
                except Exception:
                    logger.warning("Sending webhook %s failed", webhook.pk, exc_info=True)
                finally:
                    delivery.hand_back_connection()
                    with self._lock:
                        self._in_flight.discard(webhook.pk)
                    # A free slot, and perhaps that webhook's next delivery: look again now.
                    self._wake.set()
        finally:
            connections.close_all()

    def _finish(self, timeout: float | None = None) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        limit = time.monotonic() + (timeout or settings.WEBHOOKS_TIMEOUT_SECONDS + 2)
        for thread in self._threads:
            thread.join(max(0.0, limit - time.monotonic()))
        connections.close_all()

    def _maybe_prune(self, now) -> None:
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        removed = delivery.prune(now)
        if removed:
            logger.info("Removed %s finished webhook deliveries", removed)


def deliver_until_idle(*, max_passes: int = 10_000) -> int:
    """Make and send every delivery due now, in this thread; the attempts made. For
    `deliver_webhooks --once`, and tests."""
    attempts = 0
    for _ in range(max_passes):
        now = timezone.now()
        if not delivery.work_waiting(now):
            break
        delivery.materialise(now)
        # One at a time: a lease taken now is fresh when its sending starts.
        leased = delivery.claim(slots=1, exclude=set())
        if not leased:
            break
        attempts += delivery.send_due(leased[0])
    return attempts


_embedded: Deliverer | None = None
_embedded_lock = threading.Lock()


def start_in_process() -> Deliverer:
    """Start delivering from this process, in a daemon thread (once per process)."""
    global _embedded
    with _embedded_lock:
        if _embedded is None:
            _embedded = Deliverer()
            threading.Thread(target=_embedded.run, name="webhook-deliverer", daemon=True).start()
            logger.info("Delivering webhooks from this process")
        return _embedded


def stop_in_process() -> None:
    if _embedded is not None:
        _embedded.stop()
