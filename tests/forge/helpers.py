"""Deliveries as each forge makes them: its sample payload (tests/forge/payloads), the
board's ticket mentioned in it, signed its own way with the board's secret."""

import copy
import hashlib
import hmac
import json
import uuid
from functools import cache
from pathlib import Path

from django.test import Client

from boards.services import board_set_columns

PAYLOADS = Path(__file__).parent / "payloads"
SECRETS = {
    "github": "github secret 0123456789",
    "gitlab": "gitlab token 0123456789",
    "gitea": "gitea secret 0123456789",
}
EVENTS = {
    ("github", "pull_request.opened"): "pull_request",
    ("github", "pull_request.closed"): "pull_request",
    ("github", "push"): "push",
    ("github", "create.tag"): "create",
    ("gitlab", "merge_request.open"): "Merge Request Hook",
    ("gitlab", "push"): "Push Hook",
    ("gitea", "pull_request.opened"): "pull_request",
    ("gitea", "pull_request.closed"): "pull_request",
    ("gitea", "push"): "push",
    ("gitea", "create.branch"): "create",
}


@cache
def _sample(forge: str, name: str) -> str:
    return (PAYLOADS / forge / f"{name}.json").read_text()


def sample(forge: str, name: str) -> dict:
    """A fresh copy of the forge's sample payload `name`."""
    return copy.deepcopy(json.loads(_sample(forge, name)))


def signed_headers(forge: str, body: bytes, secret: str | None, event: str, delivery: str):
    """The headers `forge` sends with `body`: its event, its delivery id, its proof."""
    if forge == "github":
        headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery}
        if secret is not None:
            digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Hub-Signature-256"] = f"sha256={digest}"
    elif forge == "gitea":
        headers = {"X-Gitea-Event": event, "X-Gitea-Delivery": delivery}
        if secret is not None:
            headers["X-Gitea-Signature"] = hmac.new(
                secret.encode(), body, hashlib.sha256
            ).hexdigest()
    else:
        headers = {"X-Gitlab-Event": event, "Idempotency-Key": delivery}
        if secret is not None:
            headers["X-Gitlab-Token"] = secret
    return headers


def deliver(
    forge: str,
    board_id: int,
    payload: dict | bytes,
    event: str,
    *,
    secret: str | None = "default",
    delivery: str | None = None,
    headers: dict | None = None,
):
    """POST `payload` to the board's hook of `forge` as the forge would, with the
    board's secret by default (None: unsigned), from a client with no session."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    secret = SECRETS[forge] if secret == "default" else secret
    sent = signed_headers(forge, body, secret, event, delivery or str(uuid.uuid4()))
    return Client().post(
        f"/api/hooks/{forge}/{board_id}",
        body,
        content_type="application/json",
        headers={**sent, **(headers or {})},
    )


def set_columns(user, board, **changes: dict) -> None:
    """Change columns of `board` by name, e.g. `Review={"wip_limit": 1}`."""
    columns = [
        {"id": column.pk, "name": column.name, **changes.get(column.name, {})}
        for column in board.columns.order_by("position")
    ]
    board_set_columns(actor=user, board_id=board.pk, columns=columns)
