"""One OS process of the cross-process claim race, run through `manage.py shell -c`:
wait for the starting signal, then claim next as `username` until nothing is left, and
print what it got as one JSON line."""

import json
import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import connection

from tickets.services import NothingToClaim, ticket_claim_next


def race(*, board_id: int, username: str, ready: str, go: str) -> None:
    agent = get_user_model().objects.get(username=username)
    connection.close()
    Path(ready).touch()
    deadline = time.monotonic() + 60
    while not Path(go).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    claimed, errors = [], []
    while True:
        try:
            claimed.append(ticket_claim_next(actor=agent, board_id=board_id).pk)
        except NothingToClaim:
            break
        except Exception as exc:  # every other outcome is a failure the test reports
            errors.append(repr(exc))
            break
    connection.close()
    print(json.dumps({"username": username, "claimed": claimed, "errors": errors}))
