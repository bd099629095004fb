"""64 agents take work from one board through two daphne instances sharing PostgreSQL
and Redis: 2,400 contested claim-next calls (LOAD_CLAIM_CALLS=10000 for the full figure in
docs/operations.md), no ticket handed to two agents, no 5xx."""

import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.realtime.procs import REDIS_URL, channel_prefix, daphne_servers, process_env, run_django

CALLS = int(os.environ.get("LOAD_CLAIM_CALLS", "2400"))
TICKETS = CALLS + 100

FILL = """
from django.contrib.auth import get_user_model
from tickets import rules
from tickets.services import tickets_bulk_create
owner = get_user_model().objects.get(username="load-owner")
for start in range(0, TICKETS, rules.BULK_MAX):
    batch = [{"title": f"work {n}"} for n in range(start, min(start + rules.BULK_MAX, TICKETS))]
    tickets_bulk_create(actor=owner, board_id=BOARD, tickets=batch)
result = TICKETS
"""

HOLDERS = """
from tickets.models import Ticket
result = {
    str(pk): holder
    for pk, holder in Ticket.objects.filter(board_id=BOARD, claimed_by__isnull=False)
    .values_list("pk", "claimed_by__username")
}
"""


def claim(base: str, secret: str, board_id: int, calls: int) -> tuple[Counter, list[int]]:
    statuses, claimed = Counter(), []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}) as client:
        for _ in range(calls):
            response = client.post(f"/api/boards/{board_id}/claim-next", json={}, timeout=60)
            statuses[response.status_code] += 1
            if response.status_code == 200:
                body = response.json()
                claimed.append(body["id"])
                assert body["claimed_by"], body
    return statuses, claimed


@pytest.mark.timeout(600 + CALLS // 10)
def test_two_instances_never_hand_one_ticket_to_two_agents(team, tmp_path):
    env = process_env(
        tmp_path, database=team.database, redis=REDIS_URL, CHANNEL_LAYER_PREFIX=channel_prefix()
    )
    run_django(f"BOARD = {team.board_id}\nTICKETS = {TICKETS}\n{FILL}", env, timeout=300)
    agents = team.secrets
    per_agent = CALLS // len(agents) + 1
    with daphne_servers(2, env, tmp_path) as servers, ThreadPoolExecutor(len(agents)) as pool:
        futures = [
            pool.submit(claim, servers[n % 2].http, secret, team.board_id, per_agent)
            for n, secret in enumerate(agents)
        ]
        results = [future.result() for future in futures]
    statuses = sum((seen for seen, _ in results), Counter())
    claimed = [pk for _, pks in results for pk in pks]
    print(f"{sum(statuses.values())} claim-next calls: {dict(statuses)}")
    assert sum(statuses.values()) >= CALLS
    assert set(statuses) == {200}, statuses
    assert len(claimed) == len(set(claimed)), "a ticket was handed out twice"
    holders = run_django(f"BOARD = {team.board_id}\n{HOLDERS}", env)
    expected = {
        str(pk): f"load-agent-{agent}" for agent, (_, pks) in enumerate(results) for pk in pks
    }
    assert {pk: holders[pk] for pk in expected} == expected
