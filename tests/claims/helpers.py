"""Helpers the claim tests share: moving time, reading history and events."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from boards.models import BoardEvent
from history.models import TicketHistory
from tickets.models import Ticket

ERROR_KEYS = {"message", "code", "error_id", "timestamp", "validation_errors"}


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The response is an error in the one envelope; returns its `error` object."""
    assert response.status_code == status, response.content
    body = response.json()
    assert list(body) == ["error"], body
    error = body["error"]
    assert set(error) >= ERROR_KEYS, error
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error


def expire_lease(ticket_id: int, seconds_ago: int = 1) -> None:
    """Test setup only: let time pass for one claim by moving its lease end into the past.
    Conditional on a live claim, so it never invents one."""
    moved = Ticket.objects.filter(pk=ticket_id, claimed_by__isnull=False).update(
        lease_expires_at=timezone.now() - timedelta(seconds=seconds_ago)
    )
    assert moved == 1, f"ticket {ticket_id} holds no claim to expire"


def history_of(ticket_id: int, *fields: str) -> list[tuple]:
    rows = TicketHistory.objects.filter(ticket_id=ticket_id).order_by("id")
    if fields:
        rows = rows.filter(field_name__in=fields)
    return list(rows.values_list("field_name", "old_value", "new_value", "changed_by__username"))


def events_of(board, type: str | None = None) -> list[BoardEvent]:
    events = BoardEvent.objects.filter(board=board).order_by("seq")
    if type:
        events = events.filter(type=type)
    return list(events)


def last_seq(board) -> int:
    event = BoardEvent.objects.filter(board=board).order_by("-seq").first()
    return event.seq if event else 0


def events_after(board, seq: int) -> list[tuple[str, int | None]]:
    """(type, ticket id) of every event after `seq`."""
    return [
        (event.type, event.payload.get("id"))
        for event in BoardEvent.objects.filter(board=board, seq__gt=seq).order_by("seq")
    ]


def row(ticket_id: int) -> Ticket:
    return Ticket.objects.select_related("claimed_by").get(pk=ticket_id)


def database_url() -> str:
    """The test database as a DATABASE_URL, for processes that must share it."""
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(database['NAME']).resolve()}"
    user = database["USER"] or "postgres"
    port = f":{database['PORT']}" if database["PORT"] else ""
    return f"postgresql://{user}@{database['HOST'] or '127.0.0.1'}{port}/{database['NAME']}"


def manage(*args: str, var_dir: Path, wait: bool = True, timeout: int = 60):
    """Run `manage.py` in its own process against the test database (data must be
    committed: use django_db(transaction=True))."""
    env = {**os.environ, "DATABASE_URL": database_url(), "VAR_DIR": str(var_dir)}
    command = [sys.executable, "manage.py", *args]
    if not wait:
        return subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    return subprocess.run(
        command, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=timeout
    )
