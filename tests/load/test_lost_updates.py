"""64 writers edit one ticket at once through a real server, each naming the version it
read (If-Match): every success is in the history, every refusal is a 409, none is lost."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.realtime.procs import daphne_servers, process_env, run_django

WRITERS = 64
TRIES = 4

CREATE = """
from django.contrib.auth import get_user_model
from tickets.services import ticket_create
owner = get_user_model().objects.get(username="load-owner")
result = ticket_create(actor=owner, board_id=BOARD, title="contested").pk
"""

WRITTEN = """
from history.models import TicketHistory
from tickets.models import Ticket
rows = TicketHistory.objects.filter(ticket_id=TICKET, field_name="title")
result = {
    "titles": sorted(rows.values_list("new_value", flat=True)),
    "version": Ticket.objects.get(pk=TICKET).version,
}
"""


def write(base: str, secret: str, ticket_id: int, writer: int, start: threading.Event):
    answers, won = Counter(), []
    start.wait()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}) as client:
        for attempt in range(TRIES):
            read = client.get(f"/api/tickets/{ticket_id}", timeout=60)
            if read.status_code != 200:
                answers[read.status_code] += 1
                continue
            title = f"writer {writer} try {attempt}"
            response = client.patch(
                f"/api/tickets/{ticket_id}",
                json={"title": title},
                headers={"If-Match": read.headers["ETag"]},
                timeout=60,
            )
            answers[response.status_code] += 1
            if response.status_code == 409:
                assert response.json()["error"]["code"] == "version_conflict"
            if response.status_code == 200:
                won.append(title)
    return answers, won


@pytest.mark.timeout(300)
@pytest.mark.parametrize("database", ["team", "sqlite_team"], ids=["postgresql", "sqlite"])
def test_no_update_is_lost(request, database, tmp_path):
    team = request.getfixturevalue(database)
    env = process_env(tmp_path, database=team.database, DEBUG="false")
    ticket_id = run_django(f"BOARD = {team.board_id}\n{CREATE}", env)
    start = threading.Event()
    with daphne_servers(1, env, tmp_path) as [server], ThreadPoolExecutor(WRITERS) as pool:
        futures = [
            pool.submit(write, server.http, secret, ticket_id, number, start)
            for number, secret in enumerate(team.secrets[:WRITERS])
        ]
        start.set()
        results = [future.result() for future in futures]
    answers = sum((seen for seen, _ in results), Counter())
    won = sorted(title for _, titles in results for title in titles)
    print(f"{database}: {dict(answers)}")
    assert set(answers) <= {200, 409, 503}, (answers, server.log_tail())
    assert answers[200] > 0 and answers[409] > 0, answers
    written = run_django(f"TICKET = {ticket_id}\n{WRITTEN}", env)
    assert written["titles"] == won
    assert written["version"] == 1 + len(won)
