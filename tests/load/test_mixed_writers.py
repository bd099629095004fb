"""Writes of every kind on two tickets and their board at once, through a real daphne
on PostgreSQL: comments, edits, moves, claims and releases, dependency changes and bulk
writes. They take their locks in one order, so none deadlocks and none answers 5xx."""

import itertools
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.realtime.procs import daphne_servers, process_env, run_django

WRITERS = 24
ROUNDS = 12

TWO = """
from django.contrib.auth import get_user_model
from tickets.services import ticket_create
owner = get_user_model().objects.get(username="load-owner")
result = [ticket_create(actor=owner, board_id=BOARD, title=t).pk for t in ("A", "B")]
"""

LOGGED = """
from tests.load.checks import event_log_gap_free
result = event_log_gap_free(BOARD)
"""


def writes(a: int, b: int, writer: int):
    """The writer's requests, one kind after another (each writer starts elsewhere)."""
    kinds = [
        ("POST", "/api/comments/", {"ticket_id": a, "text": f"note {writer}"}),
        ("PATCH", f"/api/tickets/{a}", {"title": f"A by {writer}"}),
        ("POST", f"/api/tickets/{b}/move", {"column": "In Progress"}),
        ("POST", f"/api/tickets/{a}/claim", {}),
        ("PUT", f"/api/tickets/{b}/dependencies", {"blocked_by": [a]}),
        ("POST", "/api/bulk/tickets/priority", {"ticket_ids": [b, a], "priority": "high"}),
        ("POST", f"/api/tickets/{a}/release", None),
        ("PUT", f"/api/tickets/{b}/dependencies", {"blocked_by": []}),
        ("POST", "/api/bulk/tickets/move", {"ticket_ids": [a, b], "column": "Backlog"}),
        ("POST", f"/api/tickets/{a}/move", {"column": "Testing", "position": "top"}),
    ]
    return itertools.islice(itertools.cycle(kinds), writer % len(kinds), None)


def write(base: str, secret: str, a: int, b: int, writer: int, start: threading.Event):
    answers = Counter()
    start.wait()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}) as client:
        for method, path, body in itertools.islice(writes(a, b, writer), ROUNDS):
            response = client.request(method, path, json=body, timeout=60)
            code = response.json()["error"]["code"] if response.status_code >= 400 else None
            answers[(response.status_code, code)] += 1
    return answers


@pytest.mark.timeout(300)
def test_mixed_writers_on_one_ticket_never_deadlock(team, tmp_path):
    env = process_env(tmp_path, database=team.database, DEBUG="false")
    a, b = run_django(f"BOARD = {team.board_id}\n{TWO}", env)
    start = threading.Event()
    with daphne_servers(1, env, tmp_path) as [server], ThreadPoolExecutor(WRITERS) as pool:
        futures = [
            pool.submit(write, server.http, secret, a, b, n, start)
            for n, secret in enumerate(team.secrets[:WRITERS])
        ]
        start.set()
        answers = sum((future.result() for future in futures), Counter())
    print(f"mixed writers: {dict(answers)}")
    assert sum(answers.values()) == WRITERS * ROUNDS
    assert not [key for key in answers if key[0] >= 500], (answers, server.log_tail())
    # The refusals are the rules' own: someone else's claim; releasing a claim one does not
    # hold (403) or that nobody holds (409).
    refusals = {(status, code) for (status, code) in answers if status >= 400}
    assert refusals <= {(409, "claimed"), (403, "forbidden"), (409, "not_claimed")}, answers
    assert answers[(200, None)] + answers[(201, None)] > 0
    assert run_django(f"BOARD = {team.board_id}\n{LOGGED}", env) is True
